/**
 * @file The reference: Rust `tokenizers` through its Node binding (@anush008/tokenizers, dev only),
 * and the context the span checker needs for one tokenizer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenizerCore } from '../../../src/engine/tokenizer/core';
import { rustNormalize } from '../../../src/engine/tokenizer/normalize';
import type { CheckContext } from './check';

export interface RustEncoding {
  getIds(): number[];
}
export interface RustTokenizer {
  encode(text: string, pair: null, opts: { addSpecialTokens: boolean }): Promise<RustEncoding>;
  encodeBatch(texts: string[], opts: { addSpecialTokens: boolean }): Promise<RustEncoding[]>;
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
  decodeBatch(ids: number[][], skipSpecialTokens: boolean): Promise<string[]>;
}
interface RustModule {
  Tokenizer: { fromFile(path: string): RustTokenizer; fromString(json: string): RustTokenizer };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const rust = require('@anush008/tokenizers') as RustModule & Parameters<typeof import('./unicodeProbe').probeNormalizationDifferences>[0];

export type TokenizerJson = Record<string, unknown> & { added_tokens?: { content: string; special?: boolean }[] };

export function readTokenizerJson(dir: string): TokenizerJson {
  return JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
}

/**
 * Rust with the special added tokens made unmatchable: the reference for specialTokensInText 'text'.
 * (Removing them instead would renumber the added tokens after them.)
 */
export function rustWithoutSpecials(json: TokenizerJson): RustTokenizer {
  const added = (json.added_tokens ?? []).map((t, i) =>
    t.special ? { ...t, content: `\u{10FFFD}\u{F0000}unmatchable-${i}\u{10FFFD}` } : t,
  );
  return rust.Tokenizer.fromString(JSON.stringify({ ...json, added_tokens: added }));
}

export function checkContext(core: TokenizerCore, json: TokenizerJson): CheckContext {
  const normalizer = JSON.stringify(json.normalizer ?? null);
  const form = (['NFKC', 'NFKD', 'NFC', 'NFD'] as const).find((f) => normalizer.includes(`"${f}"`));
  const meta = JSON.stringify(json.decoder ?? null).includes('▁');
  return {
    table: core.decodeTable(),
    normalize: (s) => {
      let t = form ? rustNormalize(s, form) : s;
      if (meta) t = t.replaceAll('▁', ' ');
      return t;
    },
    allowPrefixSpace: meta,
    unicodeNormalizes: form !== undefined,
  };
}
