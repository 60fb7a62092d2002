/**
 * Characters newer than Oniguruma's Unicode tables (Unicode 16/17) are split as Rust splits them:
 * rustUnicode.ts lists exactly the code points Rust's regex engine classifies differently. (Text
 * full of them, NEWER_UNICODE_CASES, is part of every corpus and variant run against Rust.)
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RUST_REGEX_LOWERCASE, RUST_REGEX_UNASSIGNED_RANGES } from '../../../src/engine/tokenizer/rustUnicode';
import { rust } from './reference';
import { probeRegexDifferences } from './regexProbe';

function expand(ranges: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) out.push(c);
  return out;
}

it('rustUnicode.ts lists exactly the code points Oniguruma classifies differently', () => {
  const probed = probeRegexDifferences(rust);
  assert.deepEqual(probed.unassigned, expand(RUST_REGEX_UNASSIGNED_RANGES));
  assert.deepEqual(probed.lowercase, [...RUST_REGEX_LOWERCASE]);
});
