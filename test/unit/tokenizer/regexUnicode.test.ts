/**
 * Characters newer than Oniguruma's Unicode tables (Unicode 16/17) are split as Rust splits them:
 * rustUnicode.ts lists exactly the code points Rust classifies differently, and text full of them
 * (and of the stand-ins used for them) gets Rust's ids from every tokenizer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadCore } from '../../../src/engine/tokenizer/load';
import { TokenizerCore } from '../../../src/engine/tokenizer/core';
import { RUST_REGEX_LOWERCASE, RUST_REGEX_UNASSIGNED_RANGES } from '../../../src/engine/tokenizer/rustUnicode';
import { checkSpans } from './check';
import { corpusTokenizers, packageTokenizerDir } from './fixtures';
import { checkContext, readTokenizerJson, rust } from './reference';
import { probeRegexDifferences } from './regexProbe';

function expand(ranges: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) out.push(c);
  return out;
}

const ch = (c: number): string => String.fromCodePoint(c);

/** Each differing range's ends among letters, digits, punctuation and spaces, plus the stand-ins. */
const TEXTS: string[] = [
  ...RUST_REGEX_UNASSIGNED_RANGES.map(([a, b]) => `x${ch(a)}y ${ch(b)}1 ab${ch(a)}${ch(b)}cd .${ch(a)}. Ab${ch(b)}'s ${ch(a)}\n`),
  ...RUST_REGEX_LOWERCASE.map((c) => `a${ch(c)}b ${ch(c)} Z${ch(c)}z ${ch(c)}1`),
  'stand-ins typed by the user: a\uffffb \u{10ffff}x \u0180a a\u0180 \uffff\u{10ffff}\u0180',
];

describe('Unicode newer than Rust tokenizers’ regex engine', () => {
  it('rustUnicode.ts lists exactly the code points Oniguruma classifies differently', () => {
    const probed = probeRegexDifferences(rust);
    assert.deepEqual(probed.unassigned, expand(RUST_REGEX_UNASSIGNED_RANGES));
    assert.deepEqual(probed.lowercase, [...RUST_REGEX_LOWERCASE]);
  });

  const styles: { name: string; make: () => { core: TokenizerCore; json: Record<string, unknown> } }[] = [
    ...corpusTokenizers().map(({ name, dir }) => ({ name, make: () => ({ core: loadCore(dir), json: readTokenizerJson(dir) }) })),
    {
      name: 'GPT-2 byte-level',
      make: () => {
        const json = { ...readTokenizerJson(packageTokenizerDir('qwen3')), normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true } };
        return { core: new TokenizerCore(json, {}), json };
      },
    },
  ];
  for (const style of styles) {
    it(`${style.name}: ids equal Rust, spans hold`, async () => {
      const { core, json } = style.make();
      const ref = rust.Tokenizer.fromString(JSON.stringify(json));
      const expected = (await ref.encodeBatch(TEXTS, { addSpecialTokens: false })).map((e) => e.getIds());
      const ctx = checkContext(core, json);
      const failures: string[] = [];
      TEXTS.forEach((text, i) => {
        const mine = core.encode(text, { addSpecialTokens: false, specialTokensInText: 'special' });
        if (Array.from(mine.ids).join() !== expected[i].join()) failures.push(`ids differ for ${JSON.stringify(text)}`);
        const problems = checkSpans(text, mine, ctx);
        if (problems.length) failures.push(`spans for ${JSON.stringify(text)}: ${problems[0]}`);
      });
      assert.deepEqual(failures.slice(0, 6), [], `${failures.length} of ${TEXTS.length} failed`);
    });
  }
});
