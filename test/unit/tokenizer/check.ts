/**
 * @file The span rules every encoding must satisfy, as one checker shared by the corpus tests.
 * Returns a list of violations (empty = good) so a failure names the token and the rule.
 */
import type { CoreEncoding } from '../../../src/engine/tokenizer/encoding';
import { FLAG_NO_SPAN, FLAG_PARTIAL } from '../../../src/engine/tokenizer/encoding';
import type { DecodeTable } from '../../../src/engine/tokenizer/core';

export interface CheckContext {
  table: DecodeTable;
  /** How the tokenizer's normalizer changes text, as the decoder shows it (NFC for Qwen, ▁→space…). */
  normalize: (s: string) => string;
  /** A prepended ▁ / space (SentencePiece) may appear in decoded bytes with no text under it. */
  allowPrefixSpace: boolean;
  /**
   * The tokenizer normalizes Unicode (NFC…): when it reorders or composes a base's marks, tokens
   * that split the result share that whole combining cluster, not just one code point.
   */
  unicodeNormalizes: boolean;
}

const utf8 = new TextEncoder();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isOneCodePoint(s: string): boolean {
  return s.length > 0 && [...s].length === 1;
}

const CLUSTER = /^[\s\S]?\p{M}+$/u;

export function checkSpans(text: string, enc: CoreEncoding, ctx: CheckContext): string[] {
  const problems: string[] = [];
  const wf = (text as unknown as { toWellFormed(): string }).toWellFormed();
  const spanned: number[] = [];
  for (let i = 0; i < enc.ids.length; i++) {
    if (enc.flags[i] & FLAG_NO_SPAN) continue;
    const s = enc.starts[i];
    const e = enc.ends[i];
    if (!(s >= 0 && e >= s && e <= text.length)) problems.push(`token ${i}: bad span [${s},${e})`);
    spanned.push(i);
  }
  if (spanned.length === 0) {
    if (text.length > 0) problems.push('no token covers the text');
    return problems;
  }
  if (enc.starts[spanned[0]] !== 0) problems.push(`first span starts at ${enc.starts[spanned[0]]}, not 0`);
  const lastEnd = enc.ends[spanned[spanned.length - 1]];
  if (lastEnd !== text.length) problems.push(`last span ends at ${lastEnd}, not ${text.length}`);

  // Walk in order: no gaps; overlaps only of one code point, between partial tokens. Build groups.
  const groups: number[][] = [[spanned[0]]];
  for (let j = 1; j < spanned.length; j++) {
    const a = spanned[j - 1];
    const b = spanned[j];
    const [as, ae, bs, be] = [enc.starts[a], enc.ends[a], enc.starts[b], enc.ends[b]];
    if (bs < as) problems.push(`token ${b} starts at ${bs} before token ${a} (${as}): out of order`);
    if (bs > ae) problems.push(`gap [${ae},${bs}) between tokens ${a} and ${b}`);
    if (bs < ae && be > bs) {
      const shared = text.slice(bs, ae);
      if (!isOneCodePoint(shared) && !(ctx.unicodeNormalizes && CLUSTER.test(shared))) problems.push(`tokens ${a},${b} share ${JSON.stringify(shared)}, not one code point`);
      if (!(enc.flags[a] & FLAG_PARTIAL) || !(enc.flags[b] & FLAG_PARTIAL)) problems.push(`tokens ${a},${b} overlap but are not both partial`);
      groups[groups.length - 1].push(b);
    } else {
      groups.push([b]);
    }
  }
  for (const g of groups) {
    if (g.length === 1 && enc.flags[g[0]] & FLAG_PARTIAL) problems.push(`token ${g[0]} is partial but shares nothing`);
    // Decoded bytes of the group == UTF-8 of its slice (as the normalizer shows it).
    const parts = g.map((i) => ctx.table.bytes.subarray(ctx.table.offsets[enc.ids[i]], ctx.table.offsets[enc.ids[i] + 1]));
    const actual = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      actual.set(p, at);
      at += p.length;
    }
    const start = enc.starts[g[0]];
    const end = Math.max(...g.map((i) => enc.ends[i]));
    const expected = utf8.encode(ctx.normalize(wf.slice(start, end)));
    const ok =
      sameBytes(actual, expected) ||
      (ctx.allowPrefixSpace && actual[0] === 0x20 && sameBytes(actual.subarray(1), expected));
    if (!ok) {
      problems.push(
        `tokens ${g.join(',')} [${start},${end}) decode to ${JSON.stringify(new TextDecoder().decode(actual))}, text is ${JSON.stringify(wf.slice(start, end))}`,
      );
    }
  }
  return problems;
}
