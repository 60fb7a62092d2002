/**
 * @file What the last analysis of each document left (window states with keys/values and trace rows),
 * for live re-analysis to reuse. Bounded: least recently analysed documents are dropped first once
 * the states exceed the cap; a document whose states alone exceed it is not kept. One cache per
 * loaded model, disposed with it (a model switch drops everything).
 */
import { disposeState, reusablePositions, type WindowState } from './windowCache';

/** The default cap: room for a few long documents of the embedded model (about 4 MB a window). */
export const DEFAULT_ANALYSIS_CACHE_MB = 256;

export class AnalysisCache {
  /** In least- to most-recently-used order (Map keeps insertion order). */
  private readonly docs = new Map<string, WindowState[]>();

  constructor(readonly capBytes: number = DEFAULT_ANALYSIS_CACHE_MB * 2 ** 20) {}

  /** Bytes the kept states take. */
  get bytes(): number {
    let sum = 0;
    this.docs.forEach((states) => new Set(states).forEach((s) => (sum += s.bytes)));
    return sum;
  }

  get documents(): string[] {
    return [...this.docs.keys()];
  }

  /** The state among `key`'s last windows that shares the longest reusable start with `ids`, if any. */
  best(key: string, ids: readonly number[]): WindowState | null {
    let best: WindowState | null = null;
    let most = 0;
    for (const s of this.docs.get(key) ?? []) {
      const n = reusablePositions(s, ids);
      if (n > most) {
        [best, most] = [s, n];
      }
    }
    return best;
  }

  /** `key`'s analysis finished with these window states: they replace its old ones (kept ones stay). */
  put(key: string, states: WindowState[]): void {
    const old = this.docs.get(key) ?? [];
    this.docs.delete(key);
    this.release(old, states);
    this.docs.set(key, states);
    this.evict();
  }

  /** A run of `key` failed or was cancelled: free the states it made, keep the ones the cache holds. */
  discard(key: string, made: WindowState[]): void {
    this.release(made, this.docs.get(key) ?? []);
  }

  drop(key: string): void {
    this.release(this.docs.get(key) ?? [], []);
    this.docs.delete(key);
  }

  clear(): void {
    [...this.docs.keys()].forEach((key) => this.drop(key));
  }

  /** Disposes each state of `states` that is not in `kept`. */
  private release(states: WindowState[], kept: WindowState[]): void {
    const keep = new Set(kept);
    new Set(states).forEach((s) => !keep.has(s) && disposeState(s));
  }

  private evict(): void {
    let bytes = this.bytes;
    for (const key of this.docs.keys()) {
      if (bytes <= this.capBytes) {
        return;
      }
      const states = this.docs.get(key) ?? [];
      bytes -= [...new Set(states)].reduce((sum, s) => sum + s.bytes, 0);
      this.drop(key);
    }
  }
}
