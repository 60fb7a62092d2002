/**
 * @file The LM head over the final hidden states, a slice of the vocabulary at a time (151,936 × 2,048
 * for Qwen is 1.2 GB as float32: never widened whole): the surprisal of each next token from a
 * log-sum-exp combined across slices, and on request the logits.
 */
import { tf } from './backend';
import { MAX_SUM_EXP_KERNEL, ownKernelsActive, WasmKernels } from './kernels/wasmKernels';
import type { Decoder, VocabMatrix } from './forward';

/** Vocabulary rows widened at once: fixed, so every run slices the vocabulary the same way. */
export const HEAD_ROWS = 4096;

/**
 * The LM head's weight [V, D] a slice of HEAD_ROWS rows at a time, each as the transposed [D, n]
 * tensor a plain matMul wants; kept widened between runs when the memory plan has room (`holdAll`).
 */
export class HeadSlices {
  private kept: tf.Tensor2D[] | null = null;

  constructor(private readonly matrix: VocabMatrix) {}

  get rows(): number {
    return this.matrix.rows;
  }

  get cols(): number {
    return this.matrix.cols;
  }

  /** wT [D, n] of rows [from, from + n) (from a multiple of HEAD_ROWS); `release` frees it unless kept. */
  async slice(from: number): Promise<{ wT: tf.Tensor2D; release(): void }> {
    if (this.kept) {
      return { wT: this.kept[from / HEAD_ROWS], release: () => undefined };
    }
    const wT = await this.widen(from);
    return { wT, release: () => wT.dispose() };
  }

  async holdAll(): Promise<void> {
    const kept: tf.Tensor2D[] = [];
    try {
      for (let from = 0; from < this.rows; from += HEAD_ROWS) {
        kept.push(await this.widen(from));
      }
    } catch (err) {
      tf.dispose(kept);
      throw err;
    }
    this.kept = kept;
  }

  dispose(): void {
    tf.dispose(this.kept ?? []);
    this.kept = null;
  }

  private async widen(from: number): Promise<tf.Tensor2D> {
    const n = Math.min(HEAD_ROWS, this.rows - from);
    const rows = await this.matrix.read(from, n); // [n·D]
    return tf.tidy(() => tf.transpose(tf.tensor2d(rows, [n, this.cols]))); // [D, n]: a plain matMul is the fast one on wasm
  }
}

export interface HeadOutputs {
  /** −ln p(ids[t+1]) in nats; null for the last token. */
  surprisal: (number | null)[];
  /** [T][V], only when asked for. */
  logits?: number[][];
}

/** [T, n] → [T, 2]: each row's max and Σ exp(x − max), in one pass on the engine's kernels (tfjs ran four ops). */
function rowMaxSumExp(l: tf.Tensor2D): tf.Tensor2D {
  if (ownKernelsActive() && WasmKernels.maxSumExpFits(l.shape[1])) {
    return tf.engine().runKernel(MAX_SUM_EXP_KERNEL, { x: l }) as tf.Tensor2D;
  }
  const m = tf.max(l, 1, true); // [T, 1]
  return tf.concat([m, tf.sum(tf.exp(tf.sub(l, m)), 1, true)], 1) as tf.Tensor2D;
}

/** hidden [T, D] (after the final norm) → surprisal of ids[t+1] per row t, and the logits if asked. */
export async function headOutputs(dec: Decoder, hidden: tf.Tensor2D, ids: number[], withLogits: boolean, signal?: AbortSignal): Promise<HeadOutputs> {
  const T = ids.length;
  const V = dec.lmHead.rows;
  // Per token: the running max m and Σ exp(logit − m) over the slices so far, combined in float64 on the host.
  const max = new Float64Array(T).fill(-Infinity);
  const sum = new Float64Array(T);
  const target = new Float64Array(T).fill(NaN);
  const logits: number[][] = withLogits ? ids.map(() => []) : [];
  for (let from = 0; from < V; from += HEAD_ROWS) {
    signal?.throwIfAborted();
    const n = Math.min(HEAD_ROWS, V - from);
    const slice = await dec.lmHead.slice(from); // [D, n]
    const inSlice = ids.map((_, t) => t).filter((t) => ids[t + 1] !== undefined && ids[t + 1] >= from && ids[t + 1] < from + n); // rows whose next token is here
    const [chunk, stats] = tf.tidy(() => {
      const raw = tf.matMul(hidden, slice.wT) as tf.Tensor2D; // [T, n]
      const l = dec.hooks.logits ? dec.hooks.logits(raw) : raw;
      const picked = tf.gather(tf.reshape(l, [T * n]), tf.tensor1d(inSlice.map((t) => t * n + ids[t + 1] - from), 'int32')); // [targets here]
      return [l, tf.concat([tf.reshape(rowMaxSumExp(l), [2 * T]), picked])]; // [(max, Σ exp) per row, then targets]
    });
    slice.release();
    try {
      const values = (await stats.data()) as Float32Array;
      for (let t = 0; t < T; t++) {
        // Combine this slice's (max, Σ exp) with the running ones in float64.
        const newMax = Math.max(max[t], values[2 * t]);
        sum[t] = sum[t] * Math.exp(max[t] - newMax) + values[2 * t + 1] * Math.exp(values[2 * t] - newMax);
        max[t] = newMax;
      }
      inSlice.forEach((t, j) => (target[t] = values[2 * T + j]));
      if (withLogits) {
        const all = (await chunk.data()) as Float32Array; // [T·n]
        for (let t = 0; t < T; t++) {
          for (let j = 0; j < n; j++) {
            logits[t].push(all[t * n + j]);
          }
        }
      }
    } finally {
      tf.dispose([chunk, stats]);
    }
  }
  const surprisal = ids.map((_, t) => (t + 1 < T ? max[t] + Math.log(sum[t]) - target[t] : null));
  return withLogits ? { surprisal, logits } : { surprisal };
}
