/**
 * Ids equal Rust `tokenizers` on ≥ 1,000 generated adversarial documents per real tokenizer, in
 * both treatments of special-token strings, and every encoding's spans satisfy the rules (checkSpans).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeIds } from '../../../src/engine/tokenizer/decode';
import { loadCore } from '../../../src/engine/tokenizer/load';
import { checkSpans } from './check';
import { generateCorpus } from './corpus';
import { corpusTokenizers } from './fixtures';
import { checkContext, readTokenizerJson, rust, rustWithoutSpecials } from './reference';

const COUNT = Number(process.env.MOE_LENS_CORPUS_COUNT ?? 1000);
const WITH_TEXT_REFERENCE = new Set(['qwen3', 'llama2', 'demo']);

const expected0 = (ids: number[]): boolean => ids.length === 0;

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('tokenizer corpus vs Rust tokenizers', () => {
  corpusTokenizers().forEach(({ name, dir }, index) => {
    it(`${name}: ids, spans and decoded bytes on the adversarial corpus`, async (t) => {
      const json = readTokenizerJson(dir);
      const core = loadCore(dir);
      const ctx = checkContext(core, json);
      const ref = rust.Tokenizer.fromFile(`${dir}/tokenizer.json`);
      // The 'text' treatment is tokenizer-independent code; its Rust reference (a second copy of the
      // tokenizer) is built for the smaller tokenizers only, to keep the suite quick.
      const refText = WITH_TEXT_REFERENCE.has(name) ? rustWithoutSpecials(json) : null;
      const specials = (json.added_tokens ?? []).filter((a) => a.special).map((a) => a.content).slice(0, 12);
      const corpus = generateCorpus(1000 + index, { count: COUNT, specials, longLines: 2 });
      const failures: string[] = [];
      let idsOk = 0;
      let spansOk = 0;
      let decodeOk = 0;
      const refIds = {
        special: (await ref.encodeBatch(corpus, { addSpecialTokens: false })).map((e) => e.getIds()),
        text: refText ? (await refText.encodeBatch(corpus, { addSpecialTokens: false })).map((e) => e.getIds()) : null,
      };
      const refDecoded = await ref.decodeBatch(refIds.special, false);
      corpus.forEach((text, n) => {
        const label = JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text);
        for (const mode of ['special', 'text'] as const) {
          const mine = core.encode(text, { addSpecialTokens: false, specialTokensInText: mode });
          const expected = refIds[mode]?.[n];
          const i = expected ? firstDiff(mine.ids, expected) : 0;
          if (!expected || (i === expected.length && i === mine.ids.length)) {
            if (mode === 'special') idsOk++;
          } else {
            failures.push(`${mode} ids differ at ${i} for ${label}: ${Array.from(mine.ids.slice(i, i + 4))} vs ${expected.slice(i, i + 4)}`);
          }
          const problems = checkSpans(text, mine, ctx);
          if (mine.approximate) problems.push(`${mine.approximate} approximate spans`);
          if (problems.length === 0) {
            if (mode === 'special') spansOk++;
          } else {
            failures.push(`${mode} spans for ${label}: ${problems.slice(0, 2).join('; ')}`);
          }
        }
        if (expected0(refIds.special[n]) || decodeIds(ctx.table, refIds.special[n]) === refDecoded[n]) decodeOk++;
        else failures.push(`decode differs for ${label}`);
      });
      t.diagnostic(`${name}: ${corpus.length} documents; ids equal Rust ${idsOk}/${corpus.length}, spans ok ${spansOk}/${corpus.length}, decode equal ${decodeOk}/${corpus.length} (+ 'text' treatment: spans${refText ? ', ids vs Rust without special tokens' : ''})`);
      assert.ok(corpus.length >= 1000, 'corpus has at least 1,000 documents');
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`);
    });
  });
});
