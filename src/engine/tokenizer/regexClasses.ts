/**
 * @file Pre-tokenizing as Oniguruma classifies characters.
 *
 * Split regexes run on V8 here and on Oniguruma in Rust, whose Unicode tables are older: a character
 * assigned since (Unicode 16/17) is a letter or mark to V8 but unassigned to Rust, so the text
 * would be split differently. Before pre-tokenizing, each such character is swapped for a stand-in
 * that both engines classify as Rust does — a noncharacter (Cn, same UTF-8 length) or a lowercase
 * letter — and swapped back in the pieces afterwards, in order. Stand-ins found in the text itself
 * take the same round trip, so the swap is always reversible.
 */
import { BYTE_TO_CHAR } from './bytes';
import { RUST_REGEX_LOWERCASE, RUST_REGEX_UNASSIGNED_RANGES } from './rustUnicode';

const hex = (c: number): string => `\\u{${c.toString(16)}}`;

const STAND_IN_3 = '\uFFFF'; // noncharacter, Cn everywhere, 3 UTF-8 bytes
const STAND_IN_4 = '\u{10FFFF}'; // noncharacter, Cn everywhere, 4 UTF-8 bytes
const STAND_IN_LL = '\u0180'; // ƀ: Ll everywhere, 2 UTF-8 bytes like U+0295

const lowercase2 = RUST_REGEX_LOWERCASE.filter((c) => c >= 0x80 && c < 0x800);

/** Everything that takes the round trip: the differing code points and the stand-ins themselves. */
const SWAPPED = new RegExp(
  `[${RUST_REGEX_UNASSIGNED_RANGES.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('')}` +
    `${lowercase2.map(hex).join('')}${[STAND_IN_3, STAND_IN_4, STAND_IN_LL].map((s) => hex(s.codePointAt(0)!)).join('')}]`,
  'gu',
);
const PROBE = new RegExp(SWAPPED.source, 'u');

function standIn(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x800) {
    return STAND_IN_LL;
  }
  return cp > 0xffff ? STAND_IN_4 : STAND_IN_3;
}

const utf8 = new TextEncoder();
const asByteLevel = (s: string): string => Array.from(utf8.encode(s), (b) => BYTE_TO_CHAR[b]).join('');

/** The text with stand-ins, and the originals in order; null when nothing needs swapping. */
export function toRustClasses(text: string): { text: string; originals: string[] } | null {
  if (!PROBE.test(text)) {
    return null;
  }
  const originals: string[] = [];
  const swapped = text.replace(SWAPPED, (ch) => {
    originals.push(ch);
    return standIn(ch);
  });
  return { text: swapped, originals };
}

const STAND_INS_PLAIN = new RegExp(`[${[STAND_IN_3, STAND_IN_4, STAND_IN_LL].map((s) => hex(s.codePointAt(0)!)).join('')}]`, 'gu');
const STAND_INS_BYTES = new RegExp([STAND_IN_3, STAND_IN_4, STAND_IN_LL].map(asByteLevel).join('|'), 'g');

/** Puts the originals back into the pre-tokenized pieces (byte-level pieces hold byte symbols). */
export function restoreOriginals(pieces: string[], originals: string[], byteLevel: boolean): string[] {
  let next = 0;
  const pattern = byteLevel ? STAND_INS_BYTES : STAND_INS_PLAIN;
  const back = (): string => {
    const ch = originals[next++];
    return byteLevel ? asByteLevel(ch) : ch;
  };
  const out = pieces.map((p) => p.replace(pattern, back));
  if (next !== originals.length) {
    throw new Error(`pre-tokenizer lost characters (${next} of ${originals.length} restored)`);
  }
  return out;
}
