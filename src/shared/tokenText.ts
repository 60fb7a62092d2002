/**
 * @file How a token's text, or any other string from a trace or a document, is shown: whitespace
 * as glyphs and invisible or reordering characters (C0/C1 controls, zero-width, bidi, BOM) by name,
 * so nothing hides, reorders the line, or reaches a terminal as an escape sequence. One set of
 * glyphs for the hover, both panels and the CLI.
 */

const WHITESPACE: Readonly<Record<string, string>> = { ' ': '·', '\n': '↵', '\r': '␍', '\t': '⇥' };

function isInvisible(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2069) ||
    cp === 0xfeff ||
    cp === 0xfffd
  );
}

function codePointName(cp: number): string {
  return `⟨U+${cp.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** Invisible and control characters by name (⟨U+001B⟩); everything else, spaces included, as is. */
export function revealInvisibles(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    out += isInvisible(cp) ? codePointName(cp) : ch;
  }
  return out;
}

/** A token's text made visible: whitespace as · ↵ ␍ ⇥, invisibles by name, ∅ when empty, #id without text. */
export function visibleTokenText(text: string | null, id: number | null): string {
  if (text === null) {
    return id === null ? '?' : `#${id}`;
  }
  if (text === '') {
    return '∅';
  }
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    out += WHITESPACE[ch] ?? (isInvisible(cp) ? codePointName(cp) : ch);
  }
  return out;
}
