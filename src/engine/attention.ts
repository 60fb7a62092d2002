/**
 * @file Causal attention and the standard attention block (Mixtral, Qwen2/3-MoE, OLMoE, GraniteMoE,
 * gpt-oss's projections): its weights, its shape options, reading it, and running it in transformers'
 * order of ops. Families with other attention (DeepSeek's MLA, gpt-oss's sinks) write their own
 * closure around `causalAttention`.
 *
 * `causalAttention` works in blocks of query rows at fixed positions of the window: a block sees only
 * the keys up to its own end, so most of the masked upper triangle is never computed. Because the
 * blocks sit at fixed positions, a pass over a window's tail (queries from position P on, keys and
 * values of positions before P from a `KvSlot`) computes every row with the very same ops and shapes
 * as a pass over the whole window: incremental re-analysis is bit-exact.
 */
import { tf } from './backend';
import { applyRope, linear, rmsNorm, type Linear, type RopeTables } from './ops';
import { linearTensors, type WeightReader } from './weights';
import { ATTENTION_KERNEL, ownKernelsActive, WasmKernels } from './kernels/wasmKernels';

export interface AttentionWeights {
  q: Linear; // [D, H·hd]
  k: Linear; // [D, KV·hd]
  v: Linear; // [D, KV·hd]
  o: Linear; // [H·hd, D]
  /** Qwen3-MoE: RMSNorm per head [hd]; OLMoE: over the whole projection [H·hd] / [KV·hd]. */
  qNorm: tf.Tensor1D | null;
  kNorm: tf.Tensor1D | null;
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Multiplies q·kᵀ: 1/√hd, or GraniteMoE's attention_multiplier. */
  scale: number;
  qkNorm: 'none' | 'per-head' | 'whole';
  /** OLMoE's clip_qkv: q, k, v clamped to ±clip after the projections (and norms). */
  clipQkv: number | null;
  slidingWindow: number | null;
  eps: number;
}

export function attentionTensors(w: AttentionWeights): tf.Tensor[] {
  return [w.q, w.k, w.v, w.o].flatMap(linearTensors).concat([w.qNorm, w.kNorm].filter((t): t is tf.Tensor1D => t !== null));
}

/** Reads q/k/v/o (and q/k norms) under `prefix` (e.g. 'model.layers.3.self_attn'). */
export async function readAttention(
  r: WeightReader,
  prefix: string,
  D: number,
  s: AttentionShape,
  bias: { qkv: boolean; o: boolean },
): Promise<AttentionWeights> {
  const { numHeads: H, numKvHeads: KV, headDim: hd } = s;
  const normSize = (heads: number): number => (s.qkNorm === 'per-head' ? hd : heads * hd);
  return {
    q: await r.linear(`${prefix}.q_proj`, H * hd, D, bias.qkv),
    k: await r.linear(`${prefix}.k_proj`, KV * hd, D, bias.qkv),
    v: await r.linear(`${prefix}.v_proj`, KV * hd, D, bias.qkv),
    o: await r.linear(`${prefix}.o_proj`, D, H * hd, bias.o),
    qNorm: s.qkNorm === 'none' ? null : await r.vector(`${prefix}.q_norm.weight`, normSize(H)),
    kNorm: s.qkNorm === 'none' ? null : await r.vector(`${prefix}.k_norm.weight`, normSize(KV)),
  };
}

/** x [T, D] → attention output [T, D], in transformers' order of ops. */
export function standardAttention(w: AttentionWeights, s: AttentionShape) {
  return (x: tf.Tensor2D, rope: RopeTables, kv?: KvSlot): tf.Tensor2D => {
    const T = x.shape[0];
    const { numHeads: H, numKvHeads: KV, headDim: hd } = s;
    let q = linear(x, w.q); // [T, H·hd]
    let k = linear(x, w.k); // [T, KV·hd]
    let v = linear(x, w.v); // [T, KV·hd]
    if (s.qkNorm === 'whole') {
      q = rmsNorm(q, w.qNorm!, s.eps);
      k = rmsNorm(k, w.kNorm!, s.eps);
    }
    if (s.clipQkv !== null) {
      [q, k, v] = [q, k, v].map((t) => tf.clipByValue(t, -s.clipQkv!, s.clipQkv!));
    }
    let qh = tf.reshape(q, [T, H, hd]) as tf.Tensor3D; // [T, H, hd]
    let kh = tf.reshape(k, [T, KV, hd]) as tf.Tensor3D; // [T, KV, hd]
    const vh = tf.reshape(v, [T, KV, hd]) as tf.Tensor3D; // [T, KV, hd]
    if (s.qkNorm === 'per-head') {
      qh = rmsNorm(qh, w.qNorm!, s.eps);
      kh = rmsNorm(kh, w.kNorm!, s.eps);
    }
    qh = applyRope(qh, rope);
    kh = applyRope(kh, rope);
    const out = causalAttention(qh, kh, vh, { scale: s.scale, slidingWindow: s.slidingWindow }, kv); // [T, H·hd]
    return linear(out, w.o); // [T, D]
  };
}

// ---------------------------------------------------------------------------------------------
// Causal attention in query blocks, with an optional key/value cache
// ---------------------------------------------------------------------------------------------

/**
 * Query rows per block; blocks start at multiples of it within the window. Each block's key/value
 * slices are new tensors the wasm matMul packs again, so small blocks lose to that what they save on
 * the masked half: 256 measured best of 64–1024 on the embedded model's shapes (bench/incremental).
 */
export const QUERY_BLOCK = 256;

/** Keys [P, KV, hd] (after RoPE) and values [P, KV, hdv] of positions 0 … P−1 of a window. */
export interface KvPair {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
}

/**
 * One layer's cache for one pass: `past` holds the earlier positions (null: the pass starts the
 * window); the attention sets `next` to past ++ this pass's keys and values, kept out of the tidy
 * (the cache owns them). Neither is disposed here.
 */
export interface KvSlot {
  past: KvPair | null;
  next: KvPair | null;
}

export interface AttentionOptions {
  /** Multiplies q·k (1/√hd usually; GraniteMoE's attention_multiplier). */
  scale: number;
  /** Keys at distance ≥ window are masked (transformers: kv > q − window). null = full causal. */
  slidingWindow?: number | null;
  /** Replaces softmax over the keys for head h (gpt-oss's sinks): masked logits [n, m] → probabilities [n, m]. */
  headSoftmax?: (logits: tf.Tensor2D, head: number) => tf.Tensor2D;
}

/** The keys [from, to) a query block [a, b) may see: its own end is the causal limit. */
function blockKeys(a: number, b: number, slidingWindow: number | null): [number, number] {
  return [slidingWindow === null ? 0 : Math.max(0, a - slidingWindow + 1), b];
}

/** Additive mask [b − a, to − from]: 0 where query t may see key s, −∞ elsewhere (row by row with fill: this runs per block). */
function blockMask(a: number, b: number, from: number, to: number, slidingWindow: number | null): tf.Tensor2D {
  const [n, m] = [b - a, to - from];
  const mask = new Float32Array(n * m).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const t = a + i;
    const first = slidingWindow === null ? 0 : Math.max(0, t - slidingWindow + 1); // the first key t sees
    mask.subarray(i * m, (i + 1) * m).fill(0, Math.max(0, first - from), Math.min(m, t - from + 1));
  }
  return tf.tensor2d(mask, [n, m]);
}

/**
 * Eager grouped-query attention as transformers: softmax(q·kᵀ·scale + mask)·v, key/value heads
 * shared by groups of query heads (head h uses kv head ⌊h / (H/KV)⌋).
 * q [T, H, hd], k [T, KV, hd], v [T, KV, hdv] → [T, H·hdv], the queries at positions P … P+T−1 where
 * P is the length of `kv.past` (0 without one).
 * One 2-D matMul pair per head and query block: the wasm backend's batched matMul is about 20× slower
 * than a loop of plain ones, and a block holds one [block, keys] score matrix at a time.
 */
export function causalAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: AttentionOptions, kv?: KvSlot): tf.Tensor2D {
  const [T, H] = q.shape;
  const KV = k.shape[1];
  const groups = H / KV;
  const window = opts.slidingWindow ?? null;
  const P = kv?.past ? kv.past.k.shape[0] : 0;
  const keys = kv?.past ? (tf.concat([kv.past.k, k]) as tf.Tensor3D) : k; // [P+T, KV, hd]
  const values = kv?.past ? (tf.concat([kv.past.v, v]) as tf.Tensor3D) : v; // [P+T, KV, hdv]
  if (kv) {
    kv.next = { k: tf.keep(keys), v: tf.keep(values) };
  }
  if (!opts.headSoftmax && ownKernelsActive() && WasmKernels.attentionFits(values.shape[2])) {
    // The same blocks, in one kernel call for every head (kernels/attentionKernel.ts).
    const attrs = { scale: opts.scale, window: window ?? 0, block: QUERY_BLOCK };
    return tf.engine().runKernel(ATTENTION_KERNEL, { q, k: keys, v: values }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  const qHeads = tf.unstack(q, 1) as tf.Tensor2D[]; // H × [T, hd]
  const kHeadsT = (tf.unstack(keys, 1) as tf.Tensor2D[]).map((kh) => tf.transpose(kh)); // KV × [hd, P+T]
  const vHeads = tf.unstack(values, 1) as tf.Tensor2D[]; // KV × [P+T, hdv]
  const blocks: tf.Tensor2D[] = [];
  // Blocks at fixed positions of the window: the first may start mid-block (a tail after a cache).
  for (let a = P; a < P + T; a = (Math.floor(a / QUERY_BLOCK) + 1) * QUERY_BLOCK) {
    const b = Math.min(P + T, (Math.floor(a / QUERY_BLOCK) + 1) * QUERY_BLOCK);
    const [from, to] = blockKeys(Math.floor(a / QUERY_BLOCK) * QUERY_BLOCK, b, window);
    const mask = blockMask(a, b, from, to, window); // [b−a, to−from]
    const kBlock = kHeadsT.map((kh) => (from === 0 && to === P + T ? kh : tf.slice(kh, [0, from], [-1, to - from]))); // KV × [hd, to−from]
    const vBlock = vHeads.map((vh) => (from === 0 && to === P + T ? vh : tf.slice(vh, [from, 0], [to - from, -1]))); // KV × [to−from, hdv]
    const outs = qHeads.map((qh, h) => {
      const kvh = Math.floor(h / groups);
      const rows = a === P && b === P + T ? qh : tf.slice(qh, [a - P, 0], [b - a, -1]); // [b−a, hd]
      const logits = tf.add(tf.mul(tf.matMul(rows, kBlock[kvh]), opts.scale), mask) as tf.Tensor2D; // [b−a, to−from]
      const probs = opts.headSoftmax ? opts.headSoftmax(logits, h) : (tf.softmax(logits) as tf.Tensor2D);
      return tf.matMul(probs, vBlock[kvh]) as tf.Tensor2D; // [b−a, hdv]
    });
    blocks.push(tf.concat(outs, 1) as tf.Tensor2D); // [b−a, H·hdv]
  }
  return blocks.length === 1 ? blocks[0] : (tf.concat(blocks, 0) as tf.Tensor2D); // [T, H·hdv]
}
