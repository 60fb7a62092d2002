/**
 * @file A Hugging Face tokenizer folder → the `tokenizer.ggml.*` metadata llama.cpp's converter
 * writes (byte-level BPE only: tokens by id, token types, merges, the pre-tokenizer name recognised
 * from the split regexes, BOS/EOS). For test and tool GGUF files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preTokenizerNameOf } from '../../src/engine/gguf/preTokenizers';
import { TokenType } from '../../src/engine/gguf/tokenizer';
import { gv, type MetaValue } from './writer';
import { GgufValueType } from '../../src/engine/checkpoint/gguf/types';

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean }[];
  pre_tokenizer: { type: string; pretokenizers?: { type: string; pattern?: { Regex?: string } }[] } | null;
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
}

/** The metadata, or null when `dir` has no tokenizer.json. Throws for a tokenizer this writer cannot express. */
export function tokenizerMetadata(dir: string, vocabSize: number): Record<string, MetaValue> | null {
  const file = join(dir, 'tokenizer.json');
  if (!existsSync(file)) {
    return null;
  }
  const tok = JSON.parse(readFileSync(file, 'utf8')) as TokenizerJson;
  const cfgFile = join(dir, 'tokenizer_config.json');
  const cfg = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>) : {};
  if (tok.model.type !== 'BPE') {
    throw new Error(`${file}: only byte-level BPE tokenizers are written to GGUF here`);
  }
  const splits = (tok.pre_tokenizer?.pretokenizers ?? []).filter((p) => p.type === 'Split').map((p) => p.pattern?.Regex ?? '');
  const pre = preTokenizerNameOf(splits);
  if (!pre) {
    throw new Error(`${file}: its split regexes match no llama.cpp pre-tokenizer this writer knows`);
  }
  const size = Math.max(vocabSize, ...Object.values(tok.model.vocab).map((i) => i + 1), ...tok.added_tokens.map((t) => t.id + 1));
  const tokens: string[] = Array.from({ length: size }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(size).fill(TokenType.UNUSED);
  for (const [t, id] of Object.entries(tok.model.vocab)) {
    tokens[id] = t;
    types[id] = TokenType.NORMAL;
  }
  for (const a of tok.added_tokens) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  const idOf = (v: unknown): number | undefined => {
    const content = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { content?: string }).content : undefined;
    const id = content === undefined ? -1 : tokens.indexOf(content);
    return id >= 0 ? id : undefined;
  };
  const meta: Record<string, MetaValue> = {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': pre,
    'tokenizer.ggml.tokens': gv.array(GgufValueType.STRING, tokens),
    'tokenizer.ggml.token_type': gv.array(GgufValueType.INT32, types),
    'tokenizer.ggml.merges': gv.array(GgufValueType.STRING, tok.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')))),
    'tokenizer.ggml.add_bos_token': cfg.add_bos_token === true,
  };
  const bos = idOf(cfg.bos_token);
  const eos = idOf(cfg.eos_token);
  if (bos !== undefined) {
    meta['tokenizer.ggml.bos_token_id'] = gv.u32(bos);
  }
  if (eos !== undefined) {
    meta['tokenizer.ggml.eos_token_id'] = gv.u32(eos);
  }
  return meta;
}

/** GPT-2's byte → printable character map (bytes_to_unicode). */
function byteChars(): string[] {
  const keep = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(keep(b) ? b : next++));
}

/**
 * A small byte-level BPE vocabulary for models that have none (the golden fixtures): the 256 byte
 * tokens, then two-letter merges up to `vocabSize`, so llama.cpp (which needs a tokenizer to load)
 * and MoE Lens both read it. Ids, not this text, are what the fixture tests feed.
 */
export function byteVocabMetadata(vocabSize: number): Record<string, MetaValue> {
  const bytes = byteChars();
  const tokens = [...bytes];
  const merges: string[] = [];
  for (let i = 0; tokens.length < vocabSize; i++) {
    const a = bytes[97 + (i % 26)];
    const b = bytes[97 + (Math.floor(i / 26) % 26)];
    tokens.push(a + b);
    merges.push(`${a} ${b}`);
  }
  return {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'gpt-2',
    'tokenizer.ggml.tokens': gv.array(GgufValueType.STRING, tokens.slice(0, vocabSize)),
    'tokenizer.ggml.token_type': gv.array(GgufValueType.INT32, new Int32Array(vocabSize).fill(TokenType.NORMAL)),
    'tokenizer.ggml.merges': gv.array(GgufValueType.STRING, merges),
    'tokenizer.ggml.add_bos_token': false,
    'tokenizer.ggml.bos_token_id': gv.u32(1),
    'tokenizer.ggml.eos_token_id': gv.u32(2),
  };
}
