/**
 * @file Which code points Rust `tokenizers`' regex engine (Oniguruma, through the Node binding) sees
 * in another general category than this Node's V8: one Split pre-tokenizer call per category over a
 * string of every code point, each between NULs.
 */
import type { rust as RustModule } from './reference';

function rustMatches(rust: typeof RustModule, category: string, cps: number[]): Set<number> {
  const text = cps.map((c) => String.fromCodePoint(c)).join('\u0000');
  const tk = rust.Tokenizer.fromString(
    JSON.stringify({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      post_processor: null,
      decoder: null,
      pre_tokenizer: { type: 'Split', pattern: { Regex: `\\p{${category}}` }, behavior: 'Isolated', invert: false },
      model: { type: 'BPE', vocab: { a: 0 }, merges: [] },
    }),
  ) as unknown as { getPreTokenizer(): { preTokenizeString(s: string): [string, [number, number]][] } };
  const set = new Set<number>();
  for (const [piece] of tk.getPreTokenizer().preTokenizeString(text)) {
    if (piece !== '\u0000' && [...piece].length === 1) set.add(piece.codePointAt(0)!);
  }
  return set;
}

export interface RegexUnicodeDiff {
  /** Assigned for V8, unassigned (Cn) for Oniguruma. */
  unassigned: number[];
  /** Lowercase letters (Ll) for Oniguruma that V8 puts in another category. */
  lowercase: number[];
}

export function probeRegexDifferences(rust: typeof RustModule): RegexUnicodeDiff {
  // Planes 0–3 and 14: every plane with assigned characters (4–13 are empty, 15–16 private use).
  const cps: number[] = [];
  for (let cp = 0x80; cp <= 0x3ffff; cp++) {
    if (cp < 0xd800 || cp > 0xdfff) cps.push(cp);
  }
  for (let cp = 0xe0000; cp <= 0xe0fff; cp++) cps.push(cp);
  const cn = rustMatches(rust, 'Cn', cps);
  const jsCn = /^\p{Cn}$/u;
  const unassigned = cps.filter((c) => cn.has(c) && !jsCn.test(String.fromCodePoint(c)));
  const ll = rustMatches(rust, 'Ll', cps);
  const jsLl = /^\p{Ll}$/u;
  const lowercase = cps.filter((c) => ll.has(c) && !jsLl.test(String.fromCodePoint(c)));
  return { unassigned, lowercase };
}
