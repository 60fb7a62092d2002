/**
 * @file Added-token matching with offsets, as Rust `tokenizers`' AddedVocabulary does it:
 * leftmost-longest matches, `single_word`, `lstrip`/`rstrip` (the stripped whitespace belongs to the
 * added token), tokens marked `normalized` matched after normalization and the others before.
 */

export interface AddedTokenSpec {
  id: number;
  content: string;
  special: boolean;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

/** A piece of the input: an added token (id) or text to run through the model (id null). */
export interface AddedSplit {
  id: number | null;
  start: number;
  end: number;
}

interface TrieNode {
  next: Map<number, TrieNode>;
  token: AddedTokenSpec | null;
}

const WHITE = /\p{White_Space}/u;
const WORD = /[\p{L}\p{N}_]/u;

export class AddedMatcher {
  private readonly root: TrieNode = { next: new Map(), token: null };
  readonly size: number;

  constructor(tokens: AddedTokenSpec[]) {
    let size = 0;
    for (const t of tokens) {
      if (t.content.length === 0) { continue; }
      let node = this.root;
      for (let i = 0; i < t.content.length; i++) {
        const c = t.content.charCodeAt(i);
        let child = node.next.get(c);
        if (!child) {
          child = { next: new Map(), token: null };
          node.next.set(c, child);
        }
        node = child;
      }
      // Duplicate contents: the first one listed wins, as in the Rust vocabulary.
      if (!node.token) {
        node.token = t;
        size++;
      }
    }
    this.size = size;
  }

  /** Splits `text` into added tokens and the text between them (positions are relative to `text`). */
  split(text: string): AddedSplit[] {
    if (this.size === 0) {return text.length ? [{ id: null, start: 0, end: text.length }] : [];}
    const out: AddedSplit[] = [];
    let offset = 0;
    let i = 0;
    const n = text.length;
    while (i < n) {
      let node = this.root.next.get(text.charCodeAt(i));
      if (!node) {
        i++;
        continue;
      }
      let match: AddedTokenSpec | null = null;
      let matchEnd = i;
      let j = i + 1;
      for (;;) {
        if (node.token) {
          match = node.token;
          matchEnd = j;
        }
        if (j >= n) { break; }
        const child: TrieNode | undefined = node.next.get(text.charCodeAt(j));
        if (!child) { break; }
        node = child;
        j++;
      }
      if (!match) {
        i++;
        continue;
      }
      let start = i;
      let stop = matchEnd;
      if (match.singleWord) {
        const before = start === 0 || !WORD.test(lastCodePoint(text, start));
        const after = stop === n || !WORD.test(String.fromCodePoint(text.codePointAt(stop)!));
        if (!before || !after) {
          // Not a whole word: the scan goes on after this match, as aho-corasick's iterator does.
          i = matchEnd;
          continue;
        }
      }
      if (match.lstrip) {
        let s = start;
        while (s > offset && WHITE.test(text[s - 1])) { s--; }
        start = s;
      }
      if (match.rstrip) {
        while (stop < n && WHITE.test(text[stop])) { stop++; }
      }
      if (offset < start) {out.push({ id: null, start: offset, end: start });}
      out.push({ id: match.id, start, end: stop });
      offset = stop;
      i = stop;
    }
    if (offset < n) {out.push({ id: null, start: offset, end: n });}
    return out;
  }
}

function lastCodePoint(text: string, end: number): string {
  const c = text.charCodeAt(end - 1);
  if (c >= 0xdc00 && c <= 0xdfff && end >= 2) { return text.slice(end - 2, end); }
  return text[end - 1];
}
