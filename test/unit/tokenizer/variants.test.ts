/**
 * Tokenizer styles the four packages do not use, built from their real vocabularies and checked
 * against Rust the same way as the corpus: GPT-2 / OLMoE byte-level (ByteLevel's own regex, with and
 * without a prefix space), Mixtral's newer Metaspace pre-tokenizer, and normalizer chains (NFKC,
 * Lowercase, Replace, Strip) whose alignments carry the spans.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenizerCore } from '../../../src/engine/tokenizer/core';
import { checkSpans } from './check';
import { generateCorpus } from './corpus';
import { packageTokenizerDir } from './fixtures';
import { readTokenizerJson, rust, type TokenizerJson } from './reference';
import { rustNormalize } from '../../../src/engine/tokenizer/normalize';

const COUNT = 300;
const byteLevelPre = (addPrefixSpace: boolean): unknown => ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true });

interface Variant {
  name: string;
  base: 'qwen3' | 'llama2';
  patch: Partial<TokenizerJson>;
  /** The text as the decoded tokens show it (for the bytes-equal-slice rule). */
  normalize: (s: string) => string;
  prefixSpace: boolean;
}

const lower = (s: string): string => [...s].map((c) => c.toLowerCase()).join('');

const variants: Variant[] = [
  { name: 'GPT-2 / OLMoE byte-level', base: 'qwen3', patch: { normalizer: null, pre_tokenizer: byteLevelPre(false) }, normalize: (s) => s, prefixSpace: false },
  { name: 'byte-level with add_prefix_space', base: 'qwen3', patch: { normalizer: null, pre_tokenizer: byteLevelPre(true) }, normalize: (s) => s, prefixSpace: true },
  {
    name: 'Metaspace pre-tokenizer (prepend_scheme first)',
    base: 'llama2',
    patch: {
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    },
    normalize: (s) => s.replaceAll('▁', ' '),
    prefixSpace: true,
  },
  {
    name: 'NFKC + Lowercase + Replace normalizers',
    base: 'qwen3',
    patch: {
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { String: '\t' }, content: '  ' }],
      },
    },
    normalize: (s) => lower(rustNormalize(s, 'NFKC')).replaceAll('\t', '  '),
    prefixSpace: false,
  },
  {
    name: 'Strip + regex Replace normalizers',
    base: 'qwen3',
    patch: {
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'Strip', strip_left: true, strip_right: true }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
      },
    },
    normalize: (s) => s.replace(/ {2,}/g, ' '),
    prefixSpace: false,
  },
];

describe('tokenizer styles vs Rust', () => {
  for (const v of variants) {
    it(v.name, async () => {
      const json = { ...readTokenizerJson(packageTokenizerDir(v.base)), ...v.patch };
      const core = new TokenizerCore(json, {});
      const ref = rust.Tokenizer.fromString(JSON.stringify(json));
      const corpus = generateCorpus(77, { count: COUNT, longLines: 0 });
      const expected = (await ref.encodeBatch(corpus, { addSpecialTokens: false })).map((e) => e.getIds());
      const table = core.decodeTable();
      const failures: string[] = [];
      corpus.forEach((text, n) => {
        const mine = core.encode(text, { addSpecialTokens: false, specialTokensInText: 'special' });
        if (Array.from(mine.ids).join() !== expected[n].join()) {
          failures.push(`ids differ for ${JSON.stringify(text.slice(0, 60))}`);
        }
        // Strip removes text, so the slice-equals-bytes rule does not hold at a stripped edge.
        const problems = checkSpans(text, mine, {
          table,
          normalize: v.normalize,
          allowPrefixSpace: v.prefixSpace,
          unicodeNormalizes: v.name.startsWith('NFKC'),
        }).filter((p) => !(v.name.startsWith('Strip') && (/decode to/.test(p) || (/no token covers/.test(p) && text.trim() === ''))));
        if (mine.approximate) problems.push(`${mine.approximate} approximate`);
        if (problems.length) failures.push(`spans for ${JSON.stringify(text.slice(0, 60))}: ${problems.slice(0, 2).join('; ')}`);
      });
      assert.deepEqual(failures.slice(0, 8), [], `${failures.length} of ${corpus.length} failed`);
    });
  }
});
