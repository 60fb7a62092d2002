import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedValue } from '../../../src/extension/pure/cachedValue';

test('cachedValue reads once until invalidated', () => {
  let reads = 0;
  let setting = 'categorical';
  const scheme = cachedValue(() => {
    reads++;
    return setting;
  });
  // A 2,000-token redraw asks once per token: one settings read in all.
  for (let i = 0; i < 2000; i++) {
    assert.equal(scheme.get(), 'categorical');
  }
  assert.equal(reads, 1);
  setting = 'theme';
  assert.equal(scheme.get(), 'categorical', 'stale until invalidated');
  scheme.invalidate();
  assert.equal(scheme.get(), 'theme');
  assert.equal(scheme.get(), 'theme');
  assert.equal(reads, 2);
});

test('cachedValue caches falsy values too', () => {
  let reads = 0;
  const v = cachedValue(() => {
    reads++;
    return 0;
  });
  v.get();
  v.get();
  assert.equal(reads, 1);
});
