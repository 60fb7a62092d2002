/**
 * @file Counterfactual passes: run the model once as it is, then once per replaced routing, and
 * measure per token how far the next-token distribution moved (KL, nats) and how the surprisal of
 * the actual next token changed. A pass that changes only layer L and later starts from the
 * residual stream the model's own pass had entering L, so the layers before L are not recomputed.
 */
import type { CounterfactualLayerDoc, CounterfactualSummaryRow } from '../shared/counterfactual';
import { tf } from './backend';
import { forward, type Decoder, type ResumePoint, type RoutedLayer } from './forward';
import { HEAD_ROWS } from './head';
import type { RoutingOverride } from './routing';

export interface CounterfactualPass {
  /** The mode as the user wrote it (`topk:2@3`), echoed in the result. */
  mode: string;
  routing: RoutingOverride;
  /** The checkpoint layer number of the first layer the pass can change; null: every layer. */
  fromLayer: number | null;
}

export interface CounterfactualResult {
  mode: string;
  /** KL(model ‖ counterfactual) of the next-token distribution at each token, nats, [T]. */
  kl: number[];
  /** Surprisal of the actual next token, counterfactual − model, nats, [T]; null for the last token. */
  surprisalDelta: (number | null)[];
  /** Per MoE layer; omitted when the caller asked for summaries only. */
  layers?: CounterfactualLayerDoc[];
}

export interface CounterfactualOptions {
  /** Leave out the per-layer experts (sweeps that print one summary row per pass). */
  summaryOnly?: boolean;
  onProgress?: (fraction: number, message: string) => void;
  /** Abort → rejects with the signal's AbortError; every tensor is disposed. */
  signal?: AbortSignal;
}

/** One slice of the vocabulary: the LM head's logits [T, n] of a hidden state, for columns [from, from + n). */
interface HeadSlice {
  from: number;
  n: number;
  logits(hidden: tf.Tensor2D): tf.Tensor2D;
  release(): void;
}

/** The LM head a vocabulary slice of HEAD_ROWS rows at a time (head.ts's slices: widened when used unless kept). */
async function* headSlices(dec: Decoder): AsyncGenerator<HeadSlice> {
  for (let from = 0; from < dec.lmHead.rows; from += HEAD_ROWS) {
    const slice = await dec.lmHead.slice(from); // wT [D, n]
    yield {
      from,
      n: slice.wT.shape[1],
      logits: (hidden) =>
        tf.tidy(() => {
          const l = tf.matMul(hidden, slice.wT) as tf.Tensor2D; // [T, n]
          return dec.hooks.logits ? dec.hooks.logits(l) : l;
        }),
      release: () => slice.release(),
    };
  }
}

/**
 * Per token KL(p ‖ q) and the Δsurprisal of ids[t+1], p from the model's final hidden states, q
 * from the counterfactual's. Slice by slice each token carries, for p and q, the running max m and
 * s = Σ exp(l − m), and for p also a = Σ exp(l_p − m_p)·(l_p − l_q), combined on the host in float64;
 * then KL = a/s_p − lse_p + lse_q (Σ p = 1), exactly 0 when both logits are the same.
 */
async function compareHeads(dec: Decoder, model: tf.Tensor2D, cf: tf.Tensor2D, ids: number[], signal?: AbortSignal): Promise<Pick<CounterfactualResult, 'kl' | 'surprisalDelta'>> {
  const T = ids.length;
  const mp = new Float64Array(T).fill(-Infinity);
  const sp = new Float64Array(T);
  const a = new Float64Array(T);
  const mq = new Float64Array(T).fill(-Infinity);
  const sq = new Float64Array(T);
  const tp = new Float64Array(T).fill(NaN); // the next token's logit under p
  const tq = new Float64Array(T).fill(NaN);
  for await (const slice of headSlices(dec)) {
    signal?.throwIfAborted();
    const { from, n } = slice;
    const targets = ids.map((_, t) => t).filter((t) => t + 1 < T && ids[t + 1] >= from && ids[t + 1] < from + n); // rows whose next token is in this slice
    let stats: tf.Tensor1D;
    try {
      stats = tf.tidy(() => {
        const lp = slice.logits(model); // [T, n]
        const lq = slice.logits(cf); // [T, n]
        const flat = tf.tensor1d(
          targets.map((t) => t * n + ids[t + 1] - from),
          'int32',
        );
        const maxP = tf.max(lp, 1, true); // [T, 1]
        const maxQ = tf.max(lq, 1, true); // [T, 1]
        const eP = tf.exp(tf.sub(lp, maxP)); // [T, n]
        return tf.concat([
          tf.reshape(maxP, [T]),
          tf.sum(eP, 1),
          tf.sum(tf.mul(eP, tf.sub(lp, lq)), 1),
          tf.reshape(maxQ, [T]),
          tf.sum(tf.exp(tf.sub(lq, maxQ)), 1),
          tf.gather(tf.reshape(lp, [-1]), flat),
          tf.gather(tf.reshape(lq, [-1]), flat),
        ]) as tf.Tensor1D; // [5T + 2·targets]
      });
    } finally {
      slice.release();
    }
    let v: Float32Array;
    try {
      v = (await stats.data()) as Float32Array;
    } finally {
      stats.dispose();
    }
    for (let t = 0; t < T; t++) {
      const newP = Math.max(mp[t], v[t]);
      const [oldScale, sliceScale] = [Math.exp(mp[t] - newP), Math.exp(v[t] - newP)];
      sp[t] = sp[t] * oldScale + v[T + t] * sliceScale;
      a[t] = a[t] * oldScale + v[2 * T + t] * sliceScale;
      mp[t] = newP;
      const newQ = Math.max(mq[t], v[3 * T + t]);
      sq[t] = sq[t] * Math.exp(mq[t] - newQ) + v[4 * T + t] * Math.exp(v[3 * T + t] - newQ);
      mq[t] = newQ;
    }
    targets.forEach((t, j) => {
      tp[t] = v[5 * T + j];
      tq[t] = v[5 * T + targets.length + j];
    });
  }
  const kl: number[] = [];
  const surprisalDelta: (number | null)[] = [];
  for (let t = 0; t < T; t++) {
    const [lseP, lseQ] = [mp[t] + Math.log(sp[t]), mq[t] + Math.log(sq[t])];
    // float rounding can leave a near-identical pair a hair below zero; KL is ≥ 0 by definition.
    kl.push(Math.max(0, a[t] / sp[t] - lseP + lseQ));
    surprisalDelta.push(t + 1 < T ? lseQ - tq[t] - (lseP - tp[t]) : null);
  }
  return { kl, surprisalDelta };
}

function servedBy(layers: RoutedLayer[]): CounterfactualLayerDoc[] {
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
        const heads = await compareHeads(dec, base.hidden, cf.hidden, ids, opts.signal);
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
    maxKl: r.kl.reduce((a, b) => Math.max(a, b), 0),
    meanSurprisalDelta: deltas.length ? deltas.reduce((a, b) => a + b, 0) / deltas.length : null,
  };
}
