/**
 * @file GPT-2's byte-level alphabet: every byte 0–255 is written as one printable code point in the
 * vocabulary, so a token string can be turned back into the exact bytes it stands for.
 */

/** byte → the code point GPT-2's `bytes_to_unicode` assigns it. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) { printable.push(b); }
  for (let b = 0xa1; b <= 0xac; b++) { printable.push(b); }
  for (let b = 0xae; b <= 0xff; b++) { printable.push(b); }
  const table = new Array<string>(256);
  const isPrintable = new Set(printable);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCharCode(isPrintable.has(b) ? b : 256 + extra++);
  }
  return table;
})();

/** code unit → byte, or -1 for code units outside the alphabet (index up to 0x143). */
const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((ch, b) => (table[ch.charCodeAt(0)] = b));
  return table;
})();

const utf8 = new TextEncoder();

/** Bytes a byte-level token string stands for; code points outside the alphabet count as their UTF-8. */
export function byteLevelBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length * 3);
  let n = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b >= 0) {
      out[n++] = b;
    } else {
      // Not a byte-level symbol (e.g. an added token's text): its own UTF-8.
      const cp = token.codePointAt(i)!;
      const enc = utf8.encode(String.fromCodePoint(cp));
      out.set(enc, n);
      n += enc.length;
      if (cp > 0xffff) { i++; }
    }
  }
  return out.slice(0, n);
}

const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;

/** Bytes of a SentencePiece-style token: `<0xHH>` byte-fallback pieces are one raw byte, the rest UTF-8. */
export function pieceBytes(token: string, byteFallback: boolean): Uint8Array {
  if (byteFallback) {
    const m = BYTE_FALLBACK.exec(token);
    if (m) { return Uint8Array.of(parseInt(m[1], 16)); }
  }
  return utf8.encode(token);
}

/** UTF-8 length of the code point whose first UTF-16 unit is at `i`. */
export function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** The k-th UTF-8 byte of code point `cp`. */
export function utf8Byte(cp: number, k: number): number {
  if (cp < 0x80) { return cp; }
  if (cp < 0x800) { return k === 0 ? 0xc0 | (cp >> 6) : 0x80 | (cp & 0x3f); }
  if (cp < 0x10000) {
    return k === 0 ? 0xe0 | (cp >> 12) : k === 1 ? 0x80 | ((cp >> 6) & 0x3f) : 0x80 | (cp & 0x3f);
  }
  return k === 0
    ? 0xf0 | (cp >> 18)
    : k === 1
      ? 0x80 | ((cp >> 12) & 0x3f)
      : k === 2
        ? 0x80 | ((cp >> 6) & 0x3f)
        : 0x80 | (cp & 0x3f);
}

/**
 * Lone surrogates have no UTF-8 form. Rust `tokenizers` only ever sees them as U+FFFD (that is what a
 * UTF-16 → UTF-8 conversion substitutes), so they are replaced the same way; a one-unit-for-one-unit
 * swap keeps every offset valid.
 */
export function replaceLoneSurrogates(text: string): string {
  // ES2024 methods (Node ≥ 20); typed locally because the project targets the ES2022 lib.
  const s = text as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return s.isWellFormed() ? text : s.toWellFormed();
}
