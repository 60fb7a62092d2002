/**
 * @file The standard attention block (Mixtral, Qwen2/3-MoE, OLMoE, GraniteMoE, gpt-oss's projections):
 * its weights, its shape options, reading it, and running it in transformers' order of ops.
 * Families with other attention (DeepSeek's MLA, gpt-oss's sinks) write their own closure.
 */
import { tf } from './backend';
import { applyRope, attention, linear, rmsNorm, type Linear, type RopeTables } from './ops';
import { linearTensors, type WeightReader } from './weights';

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
  return (x: tf.Tensor2D, rope: RopeTables): tf.Tensor2D => {
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
    const out = attention(qh, kh, vh, { scale: s.scale, slidingWindow: s.slidingWindow }); // [T, H·hd]
    return linear(out, w.o); // [T, D]
  };
}
