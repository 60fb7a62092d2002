/**
 * @file One window run against what the last analysis of a window left behind: the positions before
 * the first changed token keep their keys/values and trace rows, and only the tail is computed, its
 * queries attending to the cached keys/values and its own. Every row is computed with the same ops
 * and shapes as in a full pass (attention blocks at fixed positions, see attention.ts), so the result
 * equals a full run's bit for bit.
 */
import type { KvPair, KvSlot } from './attention';
import { tf } from './backend';
import { forward, type Decoder } from './forward';
import { headOutputs } from './head';
import type { RunOptions, RunResult } from './model';
import { appendLayer, sliceLayer } from './traceRows';

/** What one analysed window leaves for the next analysis of the same document. */
export interface WindowState {
  readonly ids: readonly number[];
  /** Per layer index: keys and values of every position of the window (owned here until dispose). */
  readonly kv: readonly KvPair[];
  /** The window's run result, shared read-only with the traces made from it. */
  readonly result: RunResult;
  /** Tensor bytes plus an estimate of the rows, for the cache's cap. */
  readonly bytes: number;
}

export interface CachedRun {
  result: RunResult;
  /** `prev` itself when nothing changed, else a new state (the caller owns both). */
  state: WindowState;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) {
    i++;
  }
  return i;
}

/**
 * How many leading positions of `ids` can be taken from `prev`: all when the ids are the same, else
 * those before the first change less one, because the last reused row's surprisal depends on the
 * token after it (recomputing that one row is cheaper than keeping hidden states).
 */
export function reusablePositions(prev: WindowState | null, ids: readonly number[]): number {
  if (!prev) {
    return 0;
  }
  const common = commonPrefix(prev.ids, ids);
  return common === ids.length && prev.ids.length === ids.length ? common : Math.max(0, common - 1);
}

function stateBytes(kv: readonly KvPair[], result: RunResult): number {
  const tensors = kv.reduce((sum, p) => sum + 4 * (p.k.size + p.v.size), 0);
  // Rows are small JS arrays: about 8 bytes a number plus array overhead, per token and layer.
  const perToken = result.layers.reduce((sum, l) => sum + 16 * ((l.routerLogits?.[0]?.length ?? 0) + 3 * (l.experts?.[0]?.length ?? 0) + 4), 0);
  return tensors + perToken * result.surprisal.length;
}

export function disposeState(s: WindowState): void {
  s.kv.forEach((p) => tf.dispose([p.k, p.v]));
}

/** The first `n` positions of a cached pair (the pair itself when it has exactly `n`). */
function prefix(p: KvPair, n: number): KvPair {
  if (p.k.shape[0] === n) {
    return p;
  }
  return tf.tidy(() => ({ k: tf.slice(p.k, 0, n), v: tf.slice(p.v, 0, n) }));
}

/** Runs `ids` (one window) reusing `prev` where its ids agree; no logits, no routing override. */
export async function runCachedWindow(dec: Decoder, ids: number[], prev: WindowState | null, opts: RunOptions = {}): Promise<CachedRun> {
  const from = reusablePositions(prev, ids);
  if (prev && from === ids.length) {
    opts.onProgress?.(1, 'unchanged');
    return { result: prev.result, state: prev };
  }
  const pasts = Array.from({ length: dec.layers.count }, (_, i) => (prev && from > 0 ? prefix(prev.kv[i], from) : null));
  const slots: KvSlot[] = pasts.map((past) => ({ past, next: null }));
  const total = dec.layers.count + 1;
  try {
    const tail = ids.slice(from);
    const { layers, hidden } = await forward(dec, tail, {
      kv: { offset: from, slots },
      signal: opts.signal,
      onLayer: (done) => opts.onProgress?.(done / total, `layer ${done}/${dec.layers.count} (${tail.length} new tokens)`),
    });
    let surprisal: (number | null)[];
    try {
      opts.signal?.throwIfAborted();
      surprisal = (await headOutputs(dec, hidden, tail, false, opts.signal)).surprisal;
    } finally {
      hidden.dispose();
    }
    const joined = prev && from > 0 ? layers.map((l, i) => {
      const head = sliceLayer(prev.result.layers[i], 0, from);
      appendLayer(head, l);
      return head;
    }) : layers;
    const result: RunResult = { layers: joined, surprisal: prev && from > 0 ? [...prev.result.surprisal.slice(0, from), ...surprisal] : surprisal };
    const kv = slots.map((s) => s.next as KvPair);
    opts.onProgress?.(1, 'done');
    return { result, state: { ids: [...ids], kv, result, bytes: stateBytes(kv, result) } };
  } catch (err) {
    slots.forEach((s) => s.next && tf.dispose([s.next.k, s.next.v]));
    throw err;
  } finally {
    pasts.forEach((p, i) => p && p !== prev?.kv[i] && tf.dispose([p.k, p.v]));
  }
}
