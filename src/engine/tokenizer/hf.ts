/**
 * @file The parts of `@huggingface/tokenizers` (the JS port of HF tokenizers) this engine uses.
 *
 * The package ships ESM typings that TypeScript's Node16 resolution cannot read from a CommonJS
 * module, while its `require` export is a plain CJS build; so it is required here and typed by hand
 * with just the members we touch.
 */

export interface HfCallable<A extends unknown[], R> {
  (...args: A): R;
}

export interface HfNormalizer {
  normalize(text: string): string;
}

export interface HfPreTokenizer extends HfCallable<[string | string[], { section_index?: number }?], string[]> {
  /** Sequence pre-tokenizer's members. */
  tokenizers?: (HfPreTokenizer | null)[];
  /** ByteLevel / Split pattern. */
  pattern?: RegExp | null;
  use_regex?: boolean;
  config?: Record<string, unknown>;
}

export interface HfModel extends HfCallable<[string[]], string[]> {
  vocab: string[];
  tokens_to_ids: Map<string, number>;
  unk_token?: string;
  unk_token_id?: number;
}

export interface HfTokenizer {
  normalizer: HfNormalizer | null;
  pre_tokenizer: HfPreTokenizer | null;
  model: HfModel;
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
}

export interface HfModule {
  Tokenizer: new (tokenizerJson: object, config: object) => HfTokenizer;
  ReplaceNormalizer: new (config: object) => HfNormalizer & { pattern: RegExp | null };
  StripAccentsNormalizer: new (config: object) => HfNormalizer;
  PrecompiledNormalizer: new (config: object) => HfNormalizer;
  BertNormalizer: new (config: object) => HfNormalizer;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const hf = require('@huggingface/tokenizers') as HfModule;
