/**
 * @file A Hugging Face tokenizer folder → the `tokenizer.ggml.*` metadata llama.cpp's converter
 * writes. Byte-level BPE (`gpt2`): tokens by id, token types, merges, the pre-tokenizer name
 * recognised from the split regexes, BOS/EOS. SentencePiece BPE with byte fallback (`llama`, as
 * Llama-2 / Mixtral): tokens, scores, token types, BOS/EOS/UNK, add-space-prefix. For test and tool
 * GGUF files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preTokenizerNameOf } from '../../src/engine/gguf/preTokenizers';
import { TokenType } from '../../src/engine/gguf/tokenizer';
import { gv, type MetaValue } from './writer';
import { GgufValueType } from '../../src/engine/checkpoint/gguf/types';

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean }[];
  normalizer?: unknown;
  pre_tokenizer: { type: string; pretokenizers?: { type: string; pattern?: { Regex?: string } }[] } | null;
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[]; byte_fallback?: boolean; unk_token?: string | null };
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
    throw new Error(`${file}: only BPE tokenizers are written to GGUF here`);
  }
  if (tok.model.byte_fallback === true) {
    return sentencePieceMetadata(tok, cfg);
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

/** The BOS/EOS ids and add flags of tokenizer_config.json, as llama.cpp's SpecialVocab writes them. */
function specialIds(tokens: readonly string[], cfg: Record<string, unknown>, addBosDefault: boolean): Record<string, MetaValue> {
  const idOf = (v: unknown): number | undefined => {
    const content = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { content?: string }).content : undefined;
    const id = content === undefined ? -1 : tokens.indexOf(content);
    return id >= 0 ? id : undefined;
  };
  const meta: Record<string, MetaValue> = {
    'tokenizer.ggml.add_bos_token': typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : addBosDefault,
    'tokenizer.ggml.add_eos_token': cfg.add_eos_token === true,
  };
  for (const [key, value] of [['bos', cfg.bos_token], ['eos', cfg.eos_token], ['unknown', cfg.unk_token]] as const) {
    const id = idOf(value);
    if (id !== undefined) {
      meta[`tokenizer.ggml.${key}_token_id`] = gv.u32(id);
    }
  }
  return meta;
}

/**
 * A SentencePiece BPE tokenizer.json (byte_fallback) → llama.cpp's `llama` vocabulary. A
 * SentencePiece model's score ranks its merges; tokenizer.json keeps that order as its merge list,
 * so a token's score is minus the rank of the first merge producing it (pieces no merge makes:
 * below every merge; byte, control and unknown tokens: 0, as SentencePiece gives them). Types as
 * SentencePieceVocab writes them: `<0xNN>` BYTE, the unk token UNKNOWN, special added tokens
 * CONTROL, other added tokens USER_DEFINED.
 */
function sentencePieceMetadata(tok: TokenizerJson, cfg: Record<string, unknown>): Record<string, MetaValue> {
  const size = Math.max(...Object.values(tok.model.vocab).map((i) => i + 1), ...tok.added_tokens.map((t) => t.id + 1));
  const tokens: string[] = Array.from({ length: size }, (_, i) => `[PAD${i}]`);
  const types = new Int32Array(size).fill(TokenType.UNUSED);
  for (const [t, id] of Object.entries(tok.model.vocab)) {
    tokens[id] = t;
    types[id] = /^<0x[0-9A-Fa-f]{2}>$/.test(t) ? TokenType.BYTE : TokenType.NORMAL;
  }
  for (const a of tok.added_tokens) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  const unk = tok.model.unk_token ? tokens.indexOf(tok.model.unk_token) : -1;
  if (unk >= 0) {
    types[unk] = TokenType.UNKNOWN;
  }
  const merges = tok.model.merges.map((m) => (typeof m === 'string' ? m.split(' ') : m));
  const scores = new Float32Array(size);
  const scored = new Uint8Array(size);
  merges.forEach(([l, r], rank) => {
    const id = tok.model.vocab[l + r];
    if (id !== undefined && !scored[id]) {
      scored[id] = 1;
      scores[id] = -rank;
    }
  });
  tokens.forEach((_, id) => {
    if (!scored[id] && types[id] === TokenType.NORMAL) {
      scores[id] = -(merges.length + id);
    }
  });
  const norm = JSON.stringify(tok.normalizer ?? null) + JSON.stringify(tok.pre_tokenizer ?? null);
  return {
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': gv.array(GgufValueType.STRING, tokens),
    'tokenizer.ggml.scores': gv.array(GgufValueType.FLOAT32, scores),
    'tokenizer.ggml.token_type': gv.array(GgufValueType.INT32, types),
    'tokenizer.ggml.add_space_prefix': /"Prepend"|"prepend_scheme":"(always|first)"/.test(norm),
    ...specialIds(tokens, { unk_token: tok.model.unk_token, ...cfg }, true),
  };
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
