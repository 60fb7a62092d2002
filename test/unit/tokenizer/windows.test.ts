import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planWindows } from '../../../src/engine/windows';
import { prng } from './corpus';

describe('planWindows', () => {
  it('keeps a short sequence in one window and an empty one in none', () => {
    assert.deepEqual(planWindows(0, 8, 2), []);
    assert.deepEqual(planWindows(5, 8, 2), [{ start: 0, end: 5, overlap: 0 }]);
    assert.deepEqual(planWindows(8, 8, 2), [{ start: 0, end: 8, overlap: 0 }]);
  });

  it('overlaps consecutive windows by the given context', () => {
    assert.deepEqual(planWindows(10, 4, 1), [
      { start: 0, end: 4, overlap: 0 },
      { start: 3, end: 7, overlap: 1 },
      { start: 6, end: 10, overlap: 1 },
    ]);
    assert.deepEqual(planWindows(9, 4, 0), [
      { start: 0, end: 4, overlap: 0 },
      { start: 4, end: 8, overlap: 0 },
      { start: 8, end: 9, overlap: 0 },
    ]);
  });

  it('analyses every token exactly once, windows never longer than the size (random plans)', () => {
    const rand = prng(3);
    for (let n = 0; n < 500; n++) {
      const size = 1 + Math.floor(rand() * 50);
      const overlap = Math.floor(rand() * size);
      const count = Math.floor(rand() * 400);
      const ws = planWindows(count, size, overlap);
      let next = 0;
      for (const w of ws) {
        assert.ok(w.end - w.start <= size && w.end > w.start);
        assert.equal(w.start + w.overlap, next, 'owned tokens follow on');
        assert.ok(w.overlap <= overlap);
        next = w.end;
      }
      assert.equal(next, count);
    }
  });

  it('refuses sizes and overlaps that could not make progress', () => {
    assert.throws(() => planWindows(10, 0, 0), /window size/);
    assert.throws(() => planWindows(10, 4, 4), /overlap/);
    assert.throws(() => planWindows(10, 4, -1), /overlap/);
    assert.throws(() => planWindows(-1, 4, 1), /token count/);
    assert.throws(() => planWindows(10, 2.5, 1), /window size/);
  });
});
