/**
 * @file The tokenizer a GGUF file carries (`tokenizer.ggml.*`) → the tokenizer.json and
 * tokenizer_config.json objects our tokenizer reads, so a GGUF model gets the same exact ids and
 * UTF-16 spans as a Hugging Face folder. `gpt2`: byte-level BPE with the file's merges and the split
 * named by `tokenizer.ggml.pre`; `llama`: SentencePiece BPE with byte fallback, merges rebuilt from the
 * scores as transformers' converter does. Control and unknown tokens are special added tokens,
 * user-defined ones added tokens that are not special.
 */
import { metaBool, metaInt, metaNumbers, metaString, metaStrings, type GgufMetadata } from '../checkpoint/gguf/metadata';
import { knownPreTokenizers, preTokenizerFor } from './preTokenizers';

/** llama.cpp's token types (llama_token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export type GgufTokenizer =
  | { ok: true; tokenizer: Record<string, unknown>; config: Record<string, unknown> }
  /** Why the file's tokenizer cannot turn text into ids (the model still runs from ids). */
  | { ok: false; reason: string };

/** Tokenizer files for the GGUF metadata, or the reason there are none. */
export function ggufTokenizer(meta: GgufMetadata): GgufTokenizer {
  const model = metaString(meta, 'tokenizer.ggml.model');
  const tokens = metaStrings(meta, 'tokenizer.ggml.tokens');
  if (model === undefined || tokens === undefined || model === 'none' || model === 'no_vocab') {
    return { ok: false, reason: 'the GGUF file carries no vocabulary (tokenizer.ggml.tokens)' };
  }
  const types = metaNumbers(meta, 'tokenizer.ggml.token_type');
  if (types && types.length !== tokens.length) {
    return { ok: false, reason: `tokenizer.ggml.token_type lists ${types.length} types for ${tokens.length} tokens` };
  }
  const typeOf = (id: number): number => (types ? types[id] : TokenType.NORMAL);
  const idOf = (key: string): number | null => {
    const id = metaInt(meta, key);
    return id !== undefined && id >= 0 && id < tokens.length ? id : null;
  };
  const bos = idOf('tokenizer.ggml.bos_token_id');
  const eos = idOf('tokenizer.ggml.eos_token_id');
  const config: Record<string, unknown> = {
    bos_token: bos === null ? null : tokens[bos],
    eos_token: eos === null ? null : tokens[eos],
  };
  const addBos = metaBool(meta, 'tokenizer.ggml.add_bos_token');
  const addEos = metaBool(meta, 'tokenizer.ggml.add_eos_token');
  const added = addedTokens(tokens, typeOf);
  if (model === 'gpt2') {
    const pre = metaString(meta, 'tokenizer.ggml.pre') ?? 'default';
    const spec = preTokenizerFor(pre);
    if (!spec) {
      return {
        ok: false,
        reason: `its pre-tokenizer '${pre}' (tokenizer.ggml.pre) is not one MoE Lens knows (${knownPreTokenizers().join(', ')}), so text cannot be split as the model was trained`,
      };
    }
    const merges = metaStrings(meta, 'tokenizer.ggml.merges');
    if (!merges) {
      return { ok: false, reason: 'a gpt2 (byte-level BPE) vocabulary without tokenizer.ggml.merges' };
    }
    // llama.cpp's gpt2 vocabularies add BOS only when the file says so.
    config.add_bos_token = addBos ?? false;
    config.add_eos_token = addEos ?? false;
    return {
      ok: true,
      config,
      tokenizer: {
        version: '1.0',
        added_tokens: added,
        normalizer: null,
        pre_tokenizer: {
          type: 'Sequence',
          pretokenizers: [
            ...spec.splits.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
          ],
        },
        post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: spec.ignoreMerges, vocab: vocabOf(tokens), merges: [...merges] },
      },
    };
  }
  if (model === 'llama') {
    const scores = metaNumbers(meta, 'tokenizer.ggml.scores');
    if (!scores || scores.length !== tokens.length) {
      return { ok: false, reason: 'a llama (SentencePiece) vocabulary without one tokenizer.ggml.scores entry per token' };
    }
    const unk = idOf('tokenizer.ggml.unknown_token_id') ?? tokens.indexOf('<unk>');
    const prefix = metaBool(meta, 'tokenizer.ggml.add_space_prefix') ?? true;
    config.add_bos_token = addBos ?? true; // llama.cpp's SPM default
    config.add_eos_token = addEos ?? false;
    return {
      ok: true,
      config,
      tokenizer: {
        version: '1.0',
        added_tokens: added,
        normalizer: {
          type: 'Sequence',
          normalizers: [...(prefix ? [{ type: 'Prepend', prepend: '▁' }] : []), { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
        },
        pre_tokenizer: null,
        post_processor: null,
        decoder: {
          type: 'Sequence',
          decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, ...(prefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])],
        },
        model: {
          type: 'BPE',
          dropout: null,
          unk_token: unk >= 0 ? tokens[unk] : null,
          continuing_subword_prefix: null,
          end_of_word_suffix: null,
          fuse_unk: true,
          byte_fallback: true,
          ignore_merges: false,
          vocab: vocabOf(tokens),
          merges: mergesFromScores(tokens, scores, typeOf),
        },
      },
    };
  }
  return { ok: false, reason: `its tokenizer model '${model}' is not one MoE Lens reads (gpt2 byte-level BPE, llama SentencePiece)` };
}

/** Token → id, the first id of a string listed twice (as llama.cpp's token_to_id keeps it). */
function vocabOf(tokens: readonly string[]): Record<string, number> {
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  tokens.forEach((t, id) => {
    if (!(t in vocab)) {
      vocab[t] = id;
    }
  });
  return vocab;
}

/**
 * Control and unknown tokens are special (matched in text only when special tokens are parsed, as
 * llama.cpp's cache_special_tokens: `<unk>` of a SentencePiece vocabulary is one); user-defined ones
 * always match.
 */
function addedTokens(tokens: readonly string[], typeOf: (id: number) => number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  tokens.forEach((content, id) => {
    const type = typeOf(id);
    const special = type === TokenType.CONTROL || type === TokenType.UNKNOWN;
    if ((special || type === TokenType.USER_DEFINED) && content.length > 0) {
      out.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
    }
  });
  return out;
}

/**
 * SentencePiece BPE merges from the scores, as transformers' SentencePieceExtractor: every split of
 * a normal token into two tokens of the vocabulary is a merge, ranked by the merged token's score
 * (higher first), then by the pieces' ids.
 */
function mergesFromScores(tokens: readonly string[], scores: ArrayLike<number>, typeOf: (id: number) => number): string[] {
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (!ids.has(t)) {
      ids.set(t, id);
    }
  });
  const found: { l: number; r: number; score: number; merged: number }[] = [];
  tokens.forEach((t, merged) => {
    if (typeOf(merged) !== TokenType.NORMAL) {
      return;
    }
    const chars = Array.from(t);
    for (let cut = 1; cut < chars.length; cut++) {
      const l = ids.get(chars.slice(0, cut).join(''));
      const r = ids.get(chars.slice(cut).join(''));
      if (l !== undefined && r !== undefined) {
        found.push({ l, r, score: scores[merged], merged });
      }
    }
  });
  found.sort((a, b) => b.score - a.score || a.l - b.l || a.r - b.r);
  return found.map((m) => `${tokens[m.l]} ${tokens[m.r]}`);
}
