/**
 * @file The tokenizer pipeline with exact offsets (synchronous; runs inside the watchdog worker).
 *
 * `@huggingface/tokenizers` (the JS port of HF tokenizers) supplies the pre-tokenizers (including
 * its Oniguruma → JS regex translation) and the BPE/Unigram models. What it lacks is offsets, so the
 * steps around it are done here, the way Rust `tokenizers` does them: added-token splitting on the
 * original text, aligned normalization, then walking each token's bytes along the normalized text's
 * UTF-8 to find the original UTF-16 span it came from.
 */
import { AddedMatcher, type AddedSplit, type AddedTokenSpec } from './added';
import { BpeModel } from './bpe';
import { byteLevelBytes, pieceBytes, replaceLoneSurrogates, utf8Byte, utf8Length } from './bytes';
import { hf, type HfPreTokenizer, type HfTokenizer } from './hf';
import { alignedIdentity, createAlignedNormalizer, type Aligned, type AlignedNormalizer } from './normalize';
import { FLAG_PARTIAL, type CoreEncoding } from './encoding';
import { restoreOriginals, toRustClasses } from './regexClasses';
import { buildPostProcessor, tokenIdOf, type PostProcessor } from './postprocess';

export interface CoreOptions {
  addSpecialTokens: boolean;
  specialTokensInText: 'special' | 'text';
}


/** What the main thread needs to decode ids without a second copy of the tokenizer. */
export interface DecodeTable {
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** Concatenated display bytes of every id; id i is bytes[offsets[i]..offsets[i+1]). */
  bytes: Uint8Array;
  offsets: Int32Array;
  /** Leading spaces the decoder strips from a decoded sequence (SentencePiece's prefix space). */
  stripLeadingSpaces: number;
}

type Json = Record<string, unknown>;

const BYTE_LEVEL_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

export class TokenizerCore {
  private readonly lib: HfTokenizer;
  private readonly normalizer: AlignedNormalizer | null;
  private readonly modelVocab: Map<string, number>;
  private readonly idToToken: string[] = [];
  private readonly bpe: BpeModel | null;
  /** Only the decoder section is kept: the parsed vocab and merges are large and already indexed. */
  private readonly decoderConfig: Json | null;
  private readonly added: AddedTokenSpec[];
  /** [unnormalized, normalized] matchers, with and without special tokens. */
  private readonly matchers: Record<'special' | 'text', [AddedMatcher, AddedMatcher]>;
  private readonly post: PostProcessor;
  private readonly byteLevel: boolean;
  /** The pre-tokenizer's pieces are byte-level symbols. */
  private readonly byteLevelPre: boolean;
  private readonly byteFallback: boolean;
  private readonly unkId: number | null;
  private readonly alignCache = new Map<number, Uint8Array>();
  private readonly addedById = new Map<number, AddedTokenSpec>();
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;

  constructor(
    json: Json,
    config: Json,
  ) {
    const model = json.model as Json | undefined;
    if (!model || typeof model !== 'object') { throw new Error('it has no "model" object'); }
    if (model.type !== 'BPE' && model.type !== 'Unigram') {
      throw new Error(
        `its model type is '${String(model.type)}'; MoE Lens supports BPE (byte-level or SentencePiece-style) and Unigram tokenizers`,
      );
    }
    if (!model.vocab || typeof model.vocab !== 'object') { throw new Error('its model has no vocab'); }
    if (model.type === 'BPE' && !Array.isArray(model.merges)) { throw new Error('its BPE model has no merges list'); }
    const addedJson = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
    for (const t of addedJson) {
      if (typeof t.content !== 'string' || typeof t.id !== 'number') {
        throw new Error(`an added token is malformed: ${JSON.stringify(t).slice(0, 120)}`);
      }
    }
    // The port validates that these keys exist; an absent one means "none" in Rust.
    const full: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...json, added_tokens: [] };
    // For BPE the port only supplies the pre-tokenizer, so it gets an empty model (no second vocab in memory).
    if (model.type === 'BPE') {full.model = { type: 'BPE', vocab: {}, merges: [] };}
    this.lib = new hf.Tokenizer(full, config);
    patchByteLevelPatterns(this.lib.pre_tokenizer);
    this.normalizer = createAlignedNormalizer(json.normalizer ?? null);
    this.decoderConfig = (json.decoder ?? null) as Json | null;

    this.modelVocab =
      model.type === 'BPE'
        ? new Map(Object.entries(model.vocab as Record<string, number>))
        : new Map((model.vocab as [string, number][]).map(([piece], i) => [piece, i]));
    for (const [piece, id] of this.modelVocab) {
      if (!Number.isInteger(id) || id < 0) {throw new Error(`vocab entry '${piece}' has an invalid id ${String(id)}`);}
      this.idToToken[id] = piece;
    }
    this.bpe = model.type === 'BPE' && !(typeof model.dropout === 'number' && model.dropout > 0) ? new BpeModel(model, this.modelVocab) : null;
    if (model.type === 'BPE' && !this.bpe) { throw new Error('BPE dropout is random at encode time; MoE Lens needs a deterministic tokenizer'); }
    this.added = addedJson.map((t) => ({
      id: t.id as number,
      content: t.content as string,
      special: t.special === true,
      singleWord: t.single_word === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      normalized: typeof t.normalized === 'boolean' ? t.normalized : t.special !== true,
    }));
    for (const t of this.added) { this.addedById.set(t.id, t); }
    const matcherPair = (keep: (t: AddedTokenSpec) => boolean): [AddedMatcher, AddedMatcher] => {
      const normalizedContents = this.added
        .filter((t) => keep(t) && t.normalized && this.normalizer)
        .map((t) => ({ ...t, content: this.normalizer!(alignedIdentity(t.content, 0)).text }));
      return [new AddedMatcher(this.added.filter((t) => keep(t) && !(t.normalized && this.normalizer))), new AddedMatcher(normalizedContents)];
    };
    this.matchers = { special: matcherPair(() => true), text: matcherPair((t) => !t.special) };

    this.byteLevelPre = containsType(json.pre_tokenizer, 'ByteLevel');
    this.byteLevel = this.byteLevelPre || containsType(json.normalizer, 'ByteLevel');
    this.byteFallback = model.byte_fallback === true;
    const unk = typeof model.unk_token === 'string' ? model.unk_token : null;
    this.unkId = model.type === 'Unigram' ? ((model.unk_id as number | undefined) ?? null) : unk !== null ? (this.modelVocab.get(unk) ?? null) : null;

    let maxId = -1;
    for (const id of this.modelVocab.values()) {if (id > maxId) { maxId = id; }}
    for (const t of this.added) {if (t.id > maxId) { maxId = t.id; }}
    this.vocabSize = maxId + 1;
    const lookup = (content: string): number | null => {
      const a = this.added.find((t) => t.content === content);
      return a ? a.id : (this.modelVocab.get(content) ?? null);
    };
    this.bosTokenId = tokenIdOf(config.bos_token, lookup);
    this.eosTokenId = tokenIdOf(config.eos_token, lookup);
    this.post = buildPostProcessor(json.post_processor, config, this.bosTokenId, this.eosTokenId, lookup);
  }

  encode(rawText: string, opts: CoreOptions): CoreEncoding {
    const text = replaceLoneSurrogates(rawText);
    const out = new Out();
    const [unnormalized, normalized] = this.matchers[opts.specialTokensInText];
    for (const split of unnormalized.split(text)) {
      if (split.id !== null) {
        out.push(split.id, split.start, split.end, 0);
        continue;
      }
      const original = alignedIdentity(text.slice(split.start, split.end), split.start);
      const norm = this.normalizer ? this.normalizer(original) : original;
      for (const sub of normalized.split(norm.text)) {
        if (sub.id !== null) {
          out.push(sub.id, norm.s[sub.start], norm.e[sub.end - 1], 0);
          continue;
        }
        this.encodeSubsection(norm, sub, out);
      }
    }
    fillGaps(out, text.length);
    return this.post(out.finish(), opts.addSpecialTokens);
  }

  private encodeSubsection(norm: Aligned, sub: AddedSplit, out: Out): void {
    const piece = norm.text.slice(sub.start, sub.end);
    // Rust's Metaspace `prepend_scheme: first` asks whether this piece starts the original text.
    const sectionIndex = norm.s[sub.start] === 0 ? 0 : 1;
    let pre: string[];
    if (this.lib.pre_tokenizer) {
      const swapped = toRustClasses(piece);
      pre = this.lib.pre_tokenizer(swapped ? swapped.text : piece, { section_index: sectionIndex });
      if (swapped) {
        pre = restoreOriginals(pre, swapped.originals, this.byteLevelPre);
      }
    } else {
      pre = [piece];
    }
    let ids: number[];
    if (this.bpe) {
      ids = [];
      for (const word of pre) { this.bpe.encodeWord(word, ids); }
    } else {
      ids = this.lib.model(pre).map((t) => this.idOf(t));
    }
    alignTokens(norm, sub.start, sub.end, ids, (id) => this.alignBytes(id), this.unkId, out);
  }

  private idOf(token: string): number {
    const id = this.modelVocab.get(token);
    if (id !== undefined) { return id; }
    if (this.unkId !== null) { return this.unkId; }
    throw new Error(`the model produced '${token}', which is not in its vocabulary`);
  }

  /** Bytes of a token as they appear in the normalized text (SentencePiece's ▁ kept as is). */
  private alignBytes(id: number): Uint8Array {
    let b = this.alignCache.get(id);
    if (!b) {
      const added = this.addedById.get(id);
      const str = this.idToToken[id] ?? '';
      b = added
        ? new TextEncoder().encode(added.content)
        : this.byteLevel
          ? byteLevelBytes(str)
          : pieceBytes(str, this.byteFallback);
      this.alignCache.set(id, b);
    }
    return b;
  }

  decodeTable(): DecodeTable {
    const decoder = this.decoderConfig;
    const spaceForMeta = containsType(decoder, 'Metaspace') || JSON.stringify(decoder ?? '').includes('"▁"');
    const parts: Uint8Array[] = [];
    const offsets = new Int32Array(this.vocabSize + 1);
    let total = 0;
    const enc = new TextEncoder();
    for (let id = 0; id < this.vocabSize; id++) {
      const added = this.addedById.get(id);
      const str = this.idToToken[id];
      let b: Uint8Array;
      if (added) { b = enc.encode(added.content); }
      else if (str === undefined) { b = new Uint8Array(0); }
      else if (this.byteLevel) { b = byteLevelBytes(str); }
      else { b = pieceBytes(spaceForMeta ? str.replaceAll('▁', ' ') : str, this.byteFallback); }
      parts.push(b);
      offsets[id] = total;
      total += b.length;
    }
    offsets[this.vocabSize] = total;
    const bytes = new Uint8Array(total);
    parts.forEach((b, id) => bytes.set(b, offsets[id]));
    return {
      vocabSize: this.vocabSize,
      bosTokenId: this.bosTokenId,
      eosTokenId: this.eosTokenId,
      bytes,
      offsets,
      stripLeadingSpaces: leadingStrip(decoder),
    };
  }

}

/** Growable token list. */
export class Out {
  ids: number[] = [];
  starts: number[] = [];
  ends: number[] = [];
  flags: number[] = [];
  approximate = 0;

  push(id: number, start: number, end: number, flags: number): void {
    this.ids.push(id);
    this.starts.push(start);
    this.ends.push(end);
    this.flags.push(flags);
  }

  finish(): CoreEncoding {
    return {
      ids: Int32Array.from(this.ids),
      starts: Int32Array.from(this.starts),
      ends: Int32Array.from(this.ends),
      flags: Uint8Array.from(this.flags),
      approximate: this.approximate,
    };
  }
}

/**
 * Walks the tokens' bytes along the UTF-8 of norm.text[from, to): each token's span is the union of
 * the original ranges of the normalized code points it touches. A token that ends or starts inside a
 * code point is partial. SentencePiece's ▁ may stand for a space, and a ▁ or space the pre-tokenizer
 * inserted has no text under it (empty span).
 */
function alignTokens(
  norm: Aligned,
  from: number,
  to: number,
  ids: number[],
  bytesOf: (id: number) => Uint8Array,
  unkId: number | null,
  out: Out,
): void {
  const text = norm.text;
  let u = from;
  let k = 0;
  const here = (): number => (u < to ? norm.s[u] : u > 0 ? norm.e[u - 1] : norm.s[0]);
  const matchesAt = (bytes: Uint8Array): boolean => {
    let uu = u;
    let kk = k;
    for (let i = 0; i < bytes.length; i++) {
      if (uu >= to) { return false; }
      const cp = text.codePointAt(uu)!;
      if (bytes[i] !== utf8Byte(cp, kk)) { return false; }
      if (++kk === utf8Length(cp)) {
        uu += cp > 0xffff ? 2 : 1;
        kk = 0;
      }
    }
    return true;
  };
  const stepCodePoint = (): void => {
    const cp = text.codePointAt(u)!;
    u += cp > 0xffff ? 2 : 1;
    k = 0;
  };

  for (let t = 0; t < ids.length; t++) {
    const bytes = bytesOf(ids[t]);
    const startU = u;
    const startK = k;
    let consumed = false;
    let failed = false;
    for (let i = 0; i < bytes.length; ) {
      if (u < to) {
        const cp = text.codePointAt(u)!;
        // A ▁ in the token is checked first: its lead byte E2 also begins many other characters.
        if (k === 0 && cp !== 0x2581 && isMeta(bytes, i)) {
          if (cp === 0x20) {
            i += 3;
            u++;
            consumed = true;
            continue;
          }
          if (!consumed) {
            i += 3;
            continue;
          }
        }
        if (bytes[i] === utf8Byte(cp, k)) {
          i++;
          consumed = true;
          if (++k === utf8Length(cp)) {
            u += cp > 0xffff ? 2 : 1;
            k = 0;
          }
          continue;
        }
      }
      if (k === 0 && !consumed && (bytes[i] === 0x20 || isMeta(bytes, i))) {
        // A space or ▁ the pre-tokenizer inserted: no text under it.
        i += bytes[i] === 0x20 ? 1 : 3;
        continue;
      }
      failed = true;
      break;
    }
    if (failed) {
      if (ids[t] === unkId && u < to) {
        // An unknown character (or a fused run of them): up to where the next token's text starts.
        u = startU;
        k = 0;
        const next = t + 1 < ids.length ? bytesOf(ids[t + 1]) : null;
        do { stepCodePoint(); }
        while (u < to && (next === null || !matchesAt(next)));
        consumed = true;
      } else {
        // Should not happen for supported tokenizers; keep every character covered all the same.
        out.approximate++;
        while (u < to) { stepCodePoint(); }
        consumed = u > startU;
      }
    }
    if (!consumed) {
      const at = here();
      out.push(ids[t], at, at, 0);
      continue;
    }
    const last = k > 0 ? u + (text.codePointAt(u)! > 0xffff ? 1 : 0) : u - 1;
    const partial = startK > 0 || k > 0;
    out.push(ids[t], norm.s[startU], norm.e[last], partial ? FLAG_PARTIAL : 0);
  }
}

function isMeta(bytes: Uint8Array, i: number): boolean {
  return bytes[i] === 0xe2 && bytes[i + 1] === 0x96 && bytes[i + 2] === 0x81;
}

/**
 * Characters no token consumed (a normalizer or the model dropped them) are given to the token
 * before them, so the spans always cover the whole document; overlapping neighbours are partial.
 */
function fillGaps(out: Out, length: number): void {
  let prev = -1;
  for (let i = 0; i < out.ids.length; i++) {
    if (prev < 0) {
      if (out.starts[i] > 0) { out.starts[i] = 0; }
    } else if (out.starts[i] > out.ends[prev]) {
      out.ends[prev] = out.starts[i];
    } else if (out.starts[i] < out.ends[prev]) {
      out.flags[prev] |= FLAG_PARTIAL;
      out.flags[i] |= FLAG_PARTIAL;
    }
    prev = i;
  }
  if (prev >= 0 && out.ends[prev] < length) { out.ends[prev] = length; }
}

function containsType(config: unknown, type: string): boolean {
  if (!config || typeof config !== 'object') { return false; }
  if (Array.isArray(config)) { return config.some((c) => containsType(c, type)); }
  const c = config as Json;
  if (c.type === type) { return true; }
  return Object.values(c).some((v) => typeof v === 'object' && containsType(v, type));
}

/** The port's ByteLevel split uses JS `\s`, which adds U+FEFF and misses U+0085 compared with Rust's. */
function patchByteLevelPatterns(pre: HfPreTokenizer | null): void {
  if (!pre) { return; }
  for (const member of pre.tokenizers ?? []) { patchByteLevelPatterns(member); }
  if ('byte_encoder' in pre && 'use_regex' in pre && pre.pattern) { pre.pattern = BYTE_LEVEL_PATTERN; }
}

function leadingStrip(decoder: Json | null): number {
  if (!decoder) { return 0; }
  if (decoder.type === 'Sequence' && Array.isArray(decoder.decoders)) {
    return (decoder.decoders as Json[]).reduce((n, d) => Math.max(n, leadingStrip(d)), 0);
  }
  if (decoder.type === 'Strip' && decoder.content === ' ') { return Number(decoder.start ?? 0); }
  if (decoder.type === 'Metaspace') {
    return decoder.prepend_scheme === 'never' || decoder.add_prefix_space === false ? 0 : 1;
  }
  return 0;
}
