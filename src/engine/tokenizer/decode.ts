/** @file Decoding ids with the byte table the worker sends once (no second tokenizer on the main thread). */
import type { DecodeTable } from './core';

const utf8 = new TextDecoder('utf-8');

/** The bytes id stands for when decoded (SentencePiece ▁ as a space, byte-fallback pieces as their byte). */
export function tokenBytes(table: DecodeTable, id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id >= table.vocabSize) {
    throw new RangeError(`token id ${id} is outside the vocabulary (0–${table.vocabSize - 1})`);
  }
  return table.bytes.subarray(table.offsets[id], table.offsets[id + 1]);
}

/** As HF's decode(ids, skip_special_tokens=false) for byte-level and SentencePiece-style BPE; invalid UTF-8 becomes U+FFFD. */
export function decodeIds(table: DecodeTable, ids: readonly number[]): string {
  const parts = ids.map((id) => tokenBytes(table, id));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  let skip = 0;
  while (skip < table.stripLeadingSpaces && all[skip] === 0x20) {
    skip++;
  }
  return utf8.decode(all.subarray(skip));
}

export function tokenTextOf(table: DecodeTable, id: number): string {
  return utf8.decode(tokenBytes(table, id));
}
