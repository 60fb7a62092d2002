/**
 * @file Counterfactual passes: run the model once as it is, then once per replaced routing, and
 * measure per token how far the next-token distribution moved (KL, nats) and how the surprisal of
 * the actual next token changed. A pass that changes only layer L and later starts from the
 * residual stream the model's own pass had entering L, so the layers before L are not recomputed.
 */
import type { CounterfactualSummaryRow } from '../shared/counterfactual';
import { tf } from './backend';
import { forward, lmLogits, type Decoder, type ResumePoint, type RoutedLayer } from './forward';
import type { RoutingOverride } from './routing';

export interface CounterfactualPass {
  /** The mode as the user wrote it (`topk:2@3`), echoed in the result. */
  mode: string;
  routing: RoutingOverride;
  /** The checkpoint layer number of the first layer the pass can change; null: every layer. */
  fromLayer: number | null;
}

/** What served each token in one MoE layer of a counterfactual pass. */
export interface CounterfactualLayer {
  layer: number;
  /** Experts that served token t, [T][…], possibly none (expert choice, capacity). */
  experts: number[][];
  /** Their gate weights as applied, aligned with `experts`. */
  weights: number[][];
  /** Capacity only: experts token t chose but lost to a full expert. */
  dropped?: number[][];
}

export interface CounterfactualResult {
  mode: string;
  /** KL(model ‖ counterfactual) of the next-token distribution at each token, nats, [T]. */
  kl: number[];
  /** Surprisal of the actual next token, counterfactual − model, nats, [T]; null for the last token. */
  surprisalDelta: (number | null)[];
  /** Per MoE layer; omitted when the caller asked for summaries only. */
  layers?: CounterfactualLayer[];
}

export interface CounterfactualOptions {
  /** Leave out the per-layer experts (sweeps that print one summary row per pass). */
  summaryOnly?: boolean;
  onProgress?: (fraction: number, message: string) => void;
  /** Abort → rejects with the signal's AbortError; every tensor is disposed. */
  signal?: AbortSignal;
}

/** The LM head in slices, so [T, V] is never held at once. */
const HEAD_CHUNK = 256;

/** Per token KL(p_model ‖ p_cf) and the Δsurprisal of ids[t+1], from both final hidden states. */
async function compareHeads(dec: Decoder, model: tf.Tensor2D, cf: tf.Tensor2D, ids: number[]): Promise<Pick<CounterfactualResult, 'kl' | 'surprisalDelta'>> {
  const T = ids.length;
  const kl: number[] = [];
  const surprisalDelta: (number | null)[] = [];
  for (let from = 0; from < T; from += HEAD_CHUNK) {
    const to = Math.min(T, from + HEAD_CHUNK);
    const targets = ids.slice(from + 1, to + 1); // the very last row has no next token
    const [klChunk, deltaChunk] = tf.tidy(() => {
      const lp = tf.logSoftmax(lmLogits(dec, model, from, to)); // [n, V]
      const lq = tf.logSoftmax(lmLogits(dec, cf, from, to)); // [n, V]
      const diff = tf.sub(lp, lq); // [n, V]
      const [n, V] = diff.shape;
      const at = tf.tensor1d(
        targets.map((id, j) => j * V + id),
        'int32',
      ); // [n']
      // −ln q − (−ln p) = ln p − ln q at the actual next token
      return [tf.sum(tf.mul(tf.exp(lp), diff), 1), tf.gather(tf.reshape(diff, [n * V]), at)];
    });
    const [k, d] = await Promise.all([klChunk.data(), deltaChunk.data()]);
    klChunk.dispose();
    deltaChunk.dispose();
    // float32 rounding can leave an identical pair a hair below zero; KL is ≥ 0 by definition.
    (k as Float32Array).forEach((v) => kl.push(Math.max(0, v)));
    for (let j = 0; j < to - from; j++) {
      surprisalDelta.push(j < targets.length ? (d as Float32Array)[j] : null);
    }
  }
  return { kl, surprisalDelta };
}

function servedBy(layers: RoutedLayer[]): CounterfactualLayer[] {
  return layers
    .filter((l) => l.kind === 'moe')
    .map((l) => ({ layer: l.layer, experts: l.experts!, weights: l.weights!, ...(l.dropped ? { dropped: l.dropped } : {}) }));
}

/**
 * The model's own pass, then each counterfactual pass, on one window of ids (expert choice and
 * capacity count over exactly these tokens). Results come back in the order of `passes`.
 */
export async function runCounterfactuals(dec: Decoder, ids: number[], passes: CounterfactualPass[], opts: CounterfactualOptions = {}): Promise<CounterfactualResult[]> {
  const count = dec.layers.count;
  const keep = new Set<number>();
  const residuals = new Map<number, tf.Tensor2D>();
  let base: Awaited<ReturnType<typeof forward>> | undefined;
  try {
    // Layer numbers → indices are known once the model's own pass has listed its layers; the
    // streams to keep must be named before it runs, and a layer number never exceeds its index here.
    passes.forEach((p) => {
      if (p.fromLayer !== null && p.fromLayer > 0 && p.fromLayer < count) {
        keep.add(p.fromLayer);
      }
    });
    const starts = passes.map((p) => (p.fromLayer === null ? 0 : p.fromLayer));
    const total = count + starts.reduce((sum, s) => sum + (count - s), 0);
    let done = 0;
    const step = (message: string): void => {
      done++;
      opts.onProgress?.(Math.min(1, done / total), message);
    };
    base = await forward(dec, ids, { signal: opts.signal, keepResiduals: keep, onLayer: (i) => step(`model: layer ${i}/${count}`) });
    base.residuals.forEach((r, i) => residuals.set(i, r));
    const moeLayers = base.layers.filter((l) => l.kind === 'moe').map((l) => l.layer);
    const results: CounterfactualResult[] = [];
    for (const [n, pass] of passes.entries()) {
      opts.signal?.throwIfAborted();
      let resume: ResumePoint | undefined;
      if (pass.fromLayer !== null) {
        const index = base.layers.findIndex((l) => l.layer === pass.fromLayer);
        if (index < 0 || base.layers[index].kind !== 'moe') {
          throw new Error(`${pass.mode}: layer ${pass.fromLayer} is not an MoE layer of this model (MoE layers: ${moeLayers.join(', ')})`);
        }
        const residual = residuals.get(index);
        resume = residual ? { index, residual, before: base.layers.slice(0, index) } : undefined;
      }
      const label = passes.length > 1 ? `pass ${n + 1}/${passes.length} (${pass.mode})` : pass.mode;
      const cf = await forward(dec, ids, { routing: pass.routing, resume, signal: opts.signal, onLayer: (i) => step(`${label}: layer ${i}/${count}`) });
      try {
        const heads = await compareHeads(dec, base.hidden, cf.hidden, ids);
        results.push({ mode: pass.mode, ...heads, ...(opts.summaryOnly ? {} : { layers: servedBy(cf.layers) }) });
      } finally {
        cf.hidden.dispose();
      }
    }
    opts.onProgress?.(1, 'done');
    return results;
  } finally {
    base?.hidden.dispose();
    residuals.forEach((r) => r.dispose());
  }
}

/** One summary row per pass: mean and max KL over the tokens, mean Δsurprisal over the tokens that have a next token. */
export function summarize(r: CounterfactualResult): CounterfactualSummaryRow {
  const deltas = r.surprisalDelta.filter((d): d is number => d !== null);
  return {
    mode: r.mode,
    meanKl: r.kl.reduce((a, b) => a + b, 0) / r.kl.length,
    maxKl: Math.max(...r.kl),
    meanSurprisalDelta: deltas.length ? deltas.reduce((a, b) => a + b, 0) / deltas.length : null,
  };
}
