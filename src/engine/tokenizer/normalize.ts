/**
 * @file Normalizers that remember where every character came from.
 *
 * Rust `tokenizers` keeps an alignment from the normalized string back to the original one; the JS
 * port only returns strings. These re-implement the normalizers MoE families use (NFC/NFD/NFKC/NFKD,
 * Replace, Prepend, Strip, Lowercase, Sequence) on an aligned string, and wrap any other normalizer
 * of the port chunk by chunk, so that spans can be carried back to the user's document.
 */
import { hf, type HfNormalizer } from './hf';
import { RUST_UNNORMALIZED } from './rustUnicode';

/** A string whose every UTF-16 unit i came from the original range [s[i], e[i]). Ranges are monotone. */
export interface Aligned {
  text: string;
  s: Int32Array;
  e: Int32Array;
}

export type AlignedNormalizer = (input: Aligned) => Aligned;

export function alignedIdentity(text: string, base: number): Aligned {
  const s = new Int32Array(text.length);
  const e = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    s[i] = base + i;
    e[i] = base + i + 1;
  }
  return { text, s, e };
}

/**
 * Appends output units with their origin. Input that produces no output (stripped, replaced by
 * nothing) is left out of every unit's range: the token walk later gives such a gap to the token
 * before it (or the first token), so it is covered once, never shared between split tokens.
 */
class Builder {
  private parts: string[] = [];
  private s: number[] = [];
  private e: number[] = [];

  /** Every unit of `str` comes from [s, e). */
  push(str: string, s: number, e: number): void {
    if (str.length === 0) {
      return;
    }
    this.parts.push(str);
    for (let i = 0; i < str.length; i++) {
      this.s.push(s);
      this.e.push(e);
    }
  }

  /** Units [from, to) of `src`, unchanged. */
  copy(src: Aligned, from: number, to: number): void {
    if (to <= from) {
      return;
    }
    this.parts.push(src.text.slice(from, to));
    for (let i = from; i < to; i++) {
      this.s.push(src.s[i]);
      this.e.push(src.e[i]);
    }
  }

  /** Some input produced no output (see above): nothing to record. */
  drop(): void {}

  build(): Aligned {
    return { text: this.parts.join(''), s: Int32Array.from(this.s), e: Int32Array.from(this.e) };
  }
}

const whole = (a: Aligned, from: number, to: number): [number, number] => [a.s[from], a.e[to - 1]];

/**
 * A base character and the marks (or Hangul medial/final jamo) after it: Unicode composition never
 * crosses such a boundary, so each cluster can be normalized on its own.
 */
const CLUSTER = /[\s\S][\p{M}\u1160-\u11FF\uD7B0-\uD7FF]*/gu;
const LINE = /[^\n]*\n|[^\n]+$/g;

/** Runs a string → string normalizer per cluster, then refines each changed cluster code point by code point. */
export function chunked(f: (text: string) => string): AlignedNormalizer {
  return (a) => {
    if (a.text.length === 0) { return a; }
    if (f(a.text) === a.text) { return a; }
    const b = new Builder();
    for (const line of a.text.matchAll(LINE)) {
      const lineStart = line.index!;
      const lineEnd = lineStart + line[0].length;
      const target = f(line[0]);
      if (target === line[0]) {
        b.copy(a, lineStart, lineEnd);
        continue;
      }
      const lb = new Builder();
      for (const m of line[0].matchAll(CLUSTER)) {
        const from = lineStart + m.index!;
        const to = from + m[0].length;
        const out = f(m[0]);
        if (out === m[0]) { lb.copy(a, from, to); }
        else { refineCluster(a, from, to, out, f, lb); }
      }
      const built = lb.build();
      if (built.text === target) {
        b.copy(built, 0, built.text.length);
      } else {
        // Normalization crossed a cluster boundary: the whole line maps to the whole line.
        const [s, e] = whole(a, lineStart, lineEnd);
        if (target.length > 0) { b.push(target, s, e); }
        else { b.drop(); }
      }
    }
    return b.build();
  };
}

/** Gives each output code point the smallest prefix of the input cluster that produces it. */
function refineCluster(a: Aligned, from: number, to: number, out: string, f: (t: string) => string, b: Builder): void {
  const text = a.text.slice(from, to);
  if (out.length === 0) {
    b.drop();
    return;
  }
  if (text.length > 64) {
    b.push(out, ...whole(a, from, to));
    return;
  }
  let prevIn = 0;
  let prevOut = 0;
  for (let i = 0; i < text.length; ) {
    i += (text.codePointAt(i)! > 0xffff ? 2 : 1);
    const p = i === text.length ? out : f(text.slice(0, i));
    if (p.length > prevOut && out.startsWith(p)) {
      b.push(out.slice(prevOut, p.length), a.s[from + prevIn], a.e[from + i - 1]);
      prevOut = p.length;
      prevIn = i;
    }
  }
  if (prevIn < text.length) { b.drop(); }
}

function replace(pattern: RegExp, content: string): AlignedNormalizer {
  return (a) => {
    pattern.lastIndex = 0;
    if (!pattern.test(a.text)) { return a; }
    pattern.lastIndex = 0;
    const b = new Builder();
    let prev = 0;
    for (const m of a.text.matchAll(pattern)) {
      const start = m.index!;
      const end = start + m[0].length;
      if (end === start) { continue; }
      b.copy(a, prev, start);
      if (content.length > 0) { b.push(content, ...whole(a, start, end)); }
      else { b.drop(); }
      prev = end;
    }
    b.copy(a, prev, a.text.length);
    return b.build();
  };
}

/** Prepended text has no origin: it is given an empty span where the text begins. */
function prepend(prefix: string): AlignedNormalizer {
  return (a) => {
    if (a.text.length === 0 || prefix.length === 0) { return a; }
    const b = new Builder();
    b.push(prefix, a.s[0], a.s[0]);
    b.copy(a, 0, a.text.length);
    return b.build();
  };
}

function strip(left: boolean, right: boolean): AlignedNormalizer {
  return (a) => {
    let from = 0;
    let to = a.text.length;
    if (left) {from = a.text.length - a.text.replace(/^\p{White_Space}+/u, '').length;}
    if (right) {to = from + a.text.slice(from).replace(/\p{White_Space}+$/u, '').length;}
    if (from === 0 && to === a.text.length) { return a; }
    const b = new Builder();
    if (from > 0) { b.drop(); }
    b.copy(a, from, to);
    if (to < a.text.length) { b.drop(); }
    return b.build();
  };
}

/** Code point by code point, as Rust's `char::to_lowercase` (no final-sigma context). */
const lowercase: AlignedNormalizer = (a) => {
  if (!/[A-Z\u0080-\uFFFF]/.test(a.text)) { return a; }
  const b = new Builder();
  let i = 0;
  let runStart = 0;
  while (i < a.text.length) {
    const cp = a.text.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const ch = a.text.slice(i, i + n);
    const lc = ch.toLowerCase();
    if (lc !== ch) {
      b.copy(a, runStart, i);
      b.push(lc, a.s[i], a.e[i + n - 1]);
      runStart = i + n;
    }
    i += n;
  }
  b.copy(a, runStart, a.text.length);
  return b.build();
};

function sequence(steps: AlignedNormalizer[]): AlignedNormalizer {
  return (a) => steps.reduce((acc, step) => step(acc), a);
}

/** Unicode normalization as Rust tokenizers does it: code points newer than its tables stay as they are and block combining. */
export function rustNormalize(text: string, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD'): string {
  const pieces = text.split(RUST_UNNORMALIZED);
  if (pieces.length === 1) { return text.normalize(form); }
  const kept = text.match(RUST_UNNORMALIZED)!;
  return pieces.map((p, i) => p.normalize(form) + (i < kept.length ? kept[i] : '')).join('');
}

type Config = Record<string, unknown> & { type?: string };

/** Builds the aligned counterpart of a tokenizer.json `normalizer` (null → none). */
export function createAlignedNormalizer(config: unknown): AlignedNormalizer | null {
  if (config === null || config === undefined) { return null; }
  const c = config as Config;
  switch (c.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = c.type;
      return chunked((t) => rustNormalize(t, form));
    }
    case 'Sequence': {
      const steps = (Array.isArray(c.normalizers) ? c.normalizers : []).map(createAlignedNormalizer);
      return sequence(steps.filter((s): s is AlignedNormalizer => s !== null));
    }
    case 'Replace': {
      const lib = new hf.ReplaceNormalizer(c);
      if (!lib.pattern) {throw new Error(`Replace normalizer has an unusable pattern: ${JSON.stringify(c.pattern)}`);}
      return replace(lib.pattern, typeof c.content === 'string' ? c.content : '');
    }
    case 'Prepend':
      return prepend(typeof c.prepend === 'string' ? c.prepend : '');
    case 'Strip':
      return strip(c.strip_left !== false, c.strip_right !== false);
    case 'Lowercase':
      return lowercase;
    case 'StripAccents':
      return chunked(callable(new hf.StripAccentsNormalizer(c)));
    case 'Precompiled':
      return chunked(callable(new hf.PrecompiledNormalizer(c)));
    case 'BertNormalizer':
      return chunked(callable(new hf.BertNormalizer(c)));
    default:
      throw new Error(`unsupported normalizer type '${String(c.type)}'`);
  }
}

function callable(n: HfNormalizer): (t: string) => string {
  return (t) => n.normalize(t);
}
