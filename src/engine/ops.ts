/**
 * @file Shared transformer mechanics, written to match Hugging Face `transformers` op for op in float32:
 * linear layers, RMSNorm, rotary embeddings (default, linear, llama3, yarn), grouped-query attention
 * with a causal mask, an optional sliding window and a per-head softmax a family may replace, and SwiGLU.
 *
 * Weights are kept transposed ([in, out]) because a plain matMul is about ten times faster than a
 * transposed one on the wasm backend. Shapes: T tokens, D hidden, H heads, KV key/value heads, hd head dim.
 * Callers run these inside `tf.tidy`.
 */
import { tf } from './backend';
import { ownKernelsActive, ROPE_KERNEL, SWIGLU_KERNEL, WasmKernels } from './kernels/wasmKernels';

// ---------------------------------------------------------------------------------------------
// Linear and norms
// ---------------------------------------------------------------------------------------------

/** An nn.Linear stored transposed: y = x·wT + b. */
export interface Linear {
  wT: tf.Tensor2D; // [in, out]
  b: tf.Tensor1D | null; // [out]
}

export function linear(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  const y = tf.matMul(x, l.wT) as tf.Tensor2D; // [T, out]
  return l.b ? (tf.add(y, l.b) as tf.Tensor2D) : y;
}

/** RMSNorm as transformers: x · rsqrt(mean(x²) + eps) · w, over the last axis. */
export function rmsNorm<R extends tf.Rank>(x: tf.Tensor<R>, weight: tf.Tensor1D, eps: number): tf.Tensor<R> {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight);
}

export function silu<R extends tf.Rank>(x: tf.Tensor<R>): tf.Tensor<R> {
  return tf.mul(x, tf.sigmoid(x));
}

/** SwiGLU on a fused projection: first half gate, second half up → silu(gate) ⊙ up. */
export function swiglu(gateUp: tf.Tensor2D): tf.Tensor2D {
  if (ownKernelsActive() && WasmKernels.swigluFits(gateUp.shape[1] / 2)) {
    return tf.engine().runKernel(SWIGLU_KERNEL, { x: gateUp }) as tf.Tensor2D; // one pass (kernels/swigluKernel.ts)
  }
  const [gate, up] = tf.split(gateUp, 2, 1) as [tf.Tensor2D, tf.Tensor2D]; // [n, I] each
  return tf.mul(silu(gate), up);
}

// ---------------------------------------------------------------------------------------------
// Rotary position embeddings
// ---------------------------------------------------------------------------------------------

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositions: number;
      betaFast: number;
      betaSlow: number;
      attentionFactor: number | null;
      mscale: number | null;
      mscaleAllDim: number | null;
      truncate: boolean;
    };

export interface RopeSpec {
  theta: number;
  /** Rotary dims per head (head_dim × partial_rotary_factor). */
  dim: number;
  maxPositions: number;
  scaling: RopeScaling;
}

const f32 = Math.fround;

/** Reads `rope_scaling` as transformers does ('type' is the old spelling of 'rope_type'). */
export function parseRopeScaling(raw: unknown, maxPositions: number): RopeScaling {
  if (raw === null || raw === undefined) {
    return { type: 'default' };
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('config.json: rope_scaling must be an object or null');
  }
  const r = raw as Record<string, unknown>;
  const kind = String(r.rope_type ?? r.type ?? 'default');
  const num = (key: string, dflt?: number): number => {
    const v = r[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`config.json: rope_scaling.${key} must be a finite number for rope type '${kind}'`);
    }
    return v;
  };
  // Factors divide frequencies and enter logarithms: 0 or a negative value gives NaN rotations.
  const positive = (key: string): number => {
    const v = num(key);
    if (!(v > 0)) {
      throw new Error(`config.json: rope_scaling.${key} must be a positive number for rope type '${kind}', got ${v}`);
    }
    return v;
  };
  const opt = (key: string): number | null => (typeof r[key] === 'number' ? (r[key] as number) : null);
  // YaRN's mscale is 0.1·m·ln(factor) + 1: a negative m can make it 0 or negative (NaN or flipped attention).
  const optNonNegative = (key: string): number | null => {
    const v = opt(key);
    if (v !== null && !(v >= 0)) {
      throw new Error(`config.json: rope_scaling.${key} must be 0 or more for rope type '${kind}', got ${v}`);
    }
    return v;
  };
  switch (kind) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: positive('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: positive('factor'),
        lowFreqFactor: positive('low_freq_factor'),
        highFreqFactor: positive('high_freq_factor'),
        originalMaxPositions: positive('original_max_position_embeddings'),
      };
    case 'yarn': {
      // transformers 4.57 uses the explicit factor even when max / original differs (it only warns).
      const original = opt('original_max_position_embeddings') === null ? null : positive('original_max_position_embeddings');
      const attentionFactor = opt('attention_factor') === null ? null : positive('attention_factor');
      return {
        type: 'yarn',
        factor: positive('factor'),
        originalMaxPositions: original ?? maxPositions,
        betaFast: opt('beta_fast') || 32,
        betaSlow: opt('beta_slow') || 1,
        attentionFactor,
        mscale: optNonNegative('mscale'),
        mscaleAllDim: optNonNegative('mscale_all_dim'),
        truncate: r.truncate === undefined ? true : Boolean(r.truncate),
      };
    }
    default:
      throw new Error(`config.json: rope scaling '${kind}' is not supported (supported: default, linear, llama3, yarn)`);
  }
}

/**
 * Inverse frequencies [dim/2] and the cos/sin post-scale, in float32 step by step as torch computes
 * them (so long positions round the same way).
 */
export function ropeInvFreq(spec: RopeSpec): { invFreq: Float32Array; attentionScaling: number } {
  const { theta, dim, scaling } = spec;
  const half = dim / 2;
  const base = new Float32Array(half); // base^(2i/dim) in float32
  for (let i = 0; i < half; i++) {
    base[i] = f32(Math.pow(theta, f32(f32(2 * i) / dim)));
  }
  const inv = base.map((p) => f32(1 / p));
  switch (scaling.type) {
    case 'default':
      return { invFreq: inv, attentionScaling: 1 };
    case 'linear':
      return { invFreq: inv.map((v) => f32(v / scaling.factor)), attentionScaling: 1 };
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions: old } = scaling;
      const lowWavelen = old / lowFreqFactor;
      const highWavelen = old / highFreqFactor;
      const out = inv.map((f) => {
        const wavelen = f32((2 * Math.PI) / f);
        const scaled = wavelen > lowWavelen ? f32(f / factor) : f;
        if (wavelen < highWavelen || wavelen > lowWavelen) {
          return scaled;
        }
        const smooth = f32((f32(old / wavelen) - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
        return f32(f32(f32(1 - smooth) * f32(scaled / factor)) + f32(smooth * scaled));
      });
      return { invFreq: out, attentionScaling: 1 };
    }
    case 'yarn': {
      const { factor, betaFast, betaSlow, originalMaxPositions } = scaling;
      const mscaleOf = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
      let attentionFactor = scaling.attentionFactor;
      if (attentionFactor === null) {
        attentionFactor =
          scaling.mscale && scaling.mscaleAllDim
            ? mscaleOf(factor, scaling.mscale) / mscaleOf(factor, scaling.mscaleAllDim)
            : mscaleOf(factor);
      }
      const correctionDim = (rotations: number): number =>
        (dim * Math.log(originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
      let low = correctionDim(betaFast);
      let high = correctionDim(betaSlow);
      if (scaling.truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, dim - 1);
      if (low === high) {
        high += 0.001; // as transformers: avoid a zero-width ramp
      }
      const out = new Float32Array(half);
      for (let i = 0; i < half; i++) {
        const ramp = Math.min(1, Math.max(0, f32(f32(i - f32(low)) / f32(high - low))));
        const extrapolation = f32(1 - ramp);
        const interp = f32(1 / f32(factor * base[i]));
        out[i] = f32(f32(interp * f32(1 - extrapolation)) + f32(inv[i] * extrapolation));
      }
      return { invFreq: out, attentionScaling: attentionFactor };
    }
  }
}

export interface RopeTables {
  cos: tf.Tensor2D; // [T, dim]
  sin: tf.Tensor2D; // [T, dim]
}

/** cos/sin for the given positions, laid out as transformers' cat(freqs, freqs), times the attention scaling. */
export function ropeTables(spec: RopeSpec, positions: number[]): RopeTables {
  const { invFreq, attentionScaling } = ropeInvFreq(spec);
  const half = invFreq.length;
  const T = positions.length;
  const cos = new Float32Array(T * spec.dim);
  const sin = new Float32Array(T * spec.dim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = f32(positions[t] * invFreq[i]); // a float32 product, as torch's matmul makes it
      const c = f32(f32(Math.cos(angle)) * attentionScaling);
      const s = f32(f32(Math.sin(angle)) * attentionScaling);
      cos[t * spec.dim + i] = cos[t * spec.dim + i + half] = c;
      sin[t * spec.dim + i] = sin[t * spec.dim + i + half] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [T, spec.dim]), sin: tf.tensor2d(sin, [T, spec.dim]) };
}

/**
 * x·cos + rotate_half(x)·sin on x [T, H, dim]. `interleaved` first regroups (even, odd) pairs into
 * halves, as transformers' apply_rotary_pos_emb_interleave does (DeepSeek's rope_interleave).
 */
export function applyRope(x: tf.Tensor3D, rope: RopeTables, interleaved = false): tf.Tensor3D {
  const dim = x.shape[2];
  if (interleaved) {
    const order = [...Array.from({ length: dim / 2 }, (_, i) => 2 * i), ...Array.from({ length: dim / 2 }, (_, i) => 2 * i + 1)];
    x = tf.gather(x, order, 2) as tf.Tensor3D;
  }
  if (ownKernelsActive() && WasmKernels.ropeFits(dim) && rope.cos.shape[1] === dim) {
    return tf.engine().runKernel(ROPE_KERNEL, { x, cos: rope.cos, sin: rope.sin }) as tf.Tensor3D; // one pass, same bits (kernels/ropeKernel.ts)
  }
  const [x1, x2] = tf.split(x, 2, 2); // [T, H, dim/2] each
  const rotated = tf.concat([tf.neg(x2), x1], 2); // [T, H, dim]
  const cos = tf.expandDims(rope.cos, 1); // [T, 1, dim]
  const sin = tf.expandDims(rope.sin, 1);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor3D;
}

// ---------------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------------

export interface AttentionOptions {
  /** Multiplies q·k (1/√hd usually; GraniteMoE's attention_multiplier). */
  scale: number;
  /** Keys at distance ≥ window are masked (transformers: kv > q − window). null = full causal. */
  slidingWindow?: number | null;
  /** Replaces softmax over the keys for head h (gpt-oss's sinks): masked logits [T, T] → probabilities [T, T]. */
  headSoftmax?: (logits: tf.Tensor2D, head: number) => tf.Tensor2D;
}

/** Additive causal (and windowed) mask [T, T]: 0 where query t may see key s, −∞ elsewhere. */
export function causalMask(T: number, slidingWindow: number | null = null): tf.Tensor2D {
  const mask = new Float32Array(T * T);
  for (let t = 0; t < T; t++) {
    for (let s = 0; s < T; s++) {
      const visible = s <= t && (slidingWindow === null || t - s < slidingWindow);
      mask[t * T + s] = visible ? 0 : -Infinity;
    }
  }
  return tf.tensor2d(mask, [T, T]);
}

/**
 * Eager grouped-query attention as transformers: softmax(q·kᵀ·scale + mask)·v, key/value heads
 * shared by groups of query heads (head h uses kv head ⌊h / (H/KV)⌋).
 * q [T, H, hd], k [T, KV, hd], v [T, KV, hdv] → [T, H·hdv].
 * One 2-D matMul pair per head: the wasm backend's batched matMul is about 20× slower than a loop
 * of plain ones, and a head at a time holds one [T, T] score matrix instead of H of them.
 */
export function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: AttentionOptions): tf.Tensor2D {
  const [T, H] = q.shape;
  const KV = k.shape[1];
  const groups = H / KV;
  const mask = causalMask(T, opts.slidingWindow ?? null); // [T, T]
  const qHeads = tf.unstack(q, 1) as tf.Tensor2D[]; // H × [T, hd]
  const kHeadsT = (tf.unstack(k, 1) as tf.Tensor2D[]).map((kh) => tf.transpose(kh)); // KV × [hd, T]
  const vHeads = tf.unstack(v, 1) as tf.Tensor2D[]; // KV × [T, hdv]
  const outs = qHeads.map((qh, h) => {
    const kv = Math.floor(h / groups);
    const logits = tf.add(tf.mul(tf.matMul(qh, kHeadsT[kv]), opts.scale), mask) as tf.Tensor2D; // [T, T]
    const probs = opts.headSoftmax ? opts.headSoftmax(logits, h) : (tf.softmax(logits) as tf.Tensor2D); // [T, T]
    return tf.matMul(probs, vHeads[kv]) as tf.Tensor2D; // [T, hdv]
  });
  return tf.concat(outs, 1) as tf.Tensor2D; // [T, H·hdv]
}
