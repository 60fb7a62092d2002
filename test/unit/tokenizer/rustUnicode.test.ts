/**
 * The code points normalized differently by Node's ICU and by Rust tokenizers' older tables are
 * exactly those listed in rustUnicode.ts (so a Node or binding upgrade that shifts them fails here).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RUST_UNNORMALIZED_RANGES } from '../../../src/engine/tokenizer/rustUnicode';
import { rustNormalize } from '../../../src/engine/tokenizer/normalize';
import { rust } from './reference';
import { probeNormalizationDifferences } from './unicodeProbe';

it('rustUnicode.ts lists exactly the code points Rust normalizes differently', () => {
  const listed: number[] = [];
  for (const [a, b] of RUST_UNNORMALIZED_RANGES) for (let c = a; c <= b; c++) listed.push(c);
  assert.deepEqual(probeNormalizationDifferences(rust), listed);
});

it('rustNormalize agrees with Rust on mixed text around those code points', () => {
  const nfc = rust.nfcNormalizer();
  for (const [a] of RUST_UNNORMALIZED_RANGES) {
    const ch = String.fromCodePoint(a);
    for (const s of [`R\u030f${ch}x`, `a\u0316${ch}\u0301 e\u0301`, `${ch}\u0301\u0316`, `A${ch}\u0301`]) {
      assert.equal(rustNormalize(s, 'NFC'), nfc.normalizeString(s), JSON.stringify(s));
    }
  }
});
