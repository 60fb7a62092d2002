/**
 * @file Splitting a token sequence longer than the model's context into overlapping windows.
 *
 * Each window after the first starts `overlap` tokens before the previous one ended; those tokens
 * are context only (their routing is taken from the previous window), so every token is analysed
 * exactly once with at least `overlap` tokens of left context, and nothing is dropped.
 */
import type { TraceWindow } from '../shared/trace';

export function planWindows(tokenCount: number, size: number, overlap: number): TraceWindow[] {
  if (!Number.isInteger(tokenCount) || tokenCount < 0) {throw new RangeError(`token count must be a non-negative integer, got ${tokenCount}`);}
  if (!Number.isInteger(size) || size < 1) {throw new RangeError(`window size must be a positive integer, got ${size}`);}
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) {
    throw new RangeError(`window overlap must be an integer in [0, ${size - 1}] for window size ${size}, got ${overlap}`);
  }
  const windows: TraceWindow[] = [];
  let end = 0;
  while (end < tokenCount) {
    const start = windows.length === 0 ? 0 : end - overlap;
    const next = Math.min(start + size, tokenCount);
    windows.push({ start, end: next, overlap: end - start });
    end = next;
  }
  return windows;
}
