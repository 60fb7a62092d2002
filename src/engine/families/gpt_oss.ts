/**
 * @file gpt-oss (`model_type: gpt_oss`), as transformers' modeling_gpt_oss.py: GQA attention with
 * biases, a learned sink logit per head, sliding-window and full layers alternating per
 * `layer_types`, YaRN RoPE; an MoE block in every layer whose router has a bias.
 * Router: top-k of the logits, then softmax over those k. Experts: clamped SwiGLU with biases on an
 * interleaved gate/up projection, out = (up + 1) · gate · σ(1.702 · gate).
 */
import { attentionTensors, causalAttention, readAttention, type AttentionShape, type AttentionWeights, type KvSlot } from '../attention';
import { tf } from '../backend';
import { ConfigReader } from '../config';
import type { FamilyDef } from '../family';
import type { DecoderLayer } from '../forward';
import { lazyExperts, type ExpertBank } from '../experts';
import { applyRope, linear, type Linear, type RopeTables } from '../ops';
import { softmax, pick, type FamilyRouter } from '../routing';
import { linearTensors, WeightReader } from '../weights';
import { llamaAttentionShape, readLayerNorms, readLlamaConfig, type LlamaConfig } from './standard';

export interface GptOssConfig extends LlamaConfig {
  intermediateSize: number; // I, per expert
  /** Per layer: the window for sliding_attention layers, null for full_attention. */
  slidingWindows: (number | null)[];
}

/** GptOssConfig's default rope_scaling, used when config.json has no rope_scaling key at all. */
const DEFAULT_ROPE_SCALING = { rope_type: 'yarn', factor: 32.0, beta_fast: 32.0, beta_slow: 1.0, truncate: false, original_max_position_embeddings: 4096 };

/** GptOssExperts' constants (transformers hard-codes them; config's swiglu_limit is 7.0 in released models). */
const SWIGLU_LIMIT = 7.0;
const SWIGLU_ALPHA = 1.702;

/** transformers' GptOssConfig defaults (gpt-oss-120b sizes). */
export function parseConfig(json: Record<string, unknown>): GptOssConfig {
  const c = new ConfigReader(json, 'gpt_oss');
  const common = readLlamaConfig(c, {
    vocabSize: 201088,
    hiddenSize: 2880,
    numLayers: 36,
    numHeads: 64,
    numExperts: ['num_local_experts', 128],
    topK: 4,
    numKvHeads: 8,
    readsHeadDim: true,
    maxPositions: 131072,
    rmsNormEps: 1e-5,
    ropeTheta: 150000,
    ropeScaling: DEFAULT_ROPE_SCALING,
  });
  const { numLayers } = common;
  const window = c.int('sliding_window', 128);
  const rawTypes = json.layer_types ?? Array.from({ length: numLayers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
  if (!Array.isArray(rawTypes) || rawTypes.length !== numLayers || rawTypes.some((t) => t !== 'sliding_attention' && t !== 'full_attention')) {
    throw new Error(`config.json (gpt_oss): 'layer_types' must list ${numLayers} entries of 'sliding_attention' or 'full_attention'`);
  }
  return {
    ...common,
    intermediateSize: c.int('intermediate_size', 2880),
    slidingWindows: rawTypes.map((t) => (t === 'sliding_attention' ? window : null)),
  };
}

/** Top-k of the raw logits (bias included) → softmax over those k values. */
export const route: FamilyRouter = (logits, k, blocked, forced) => {
  const experts = logits.map((l) => pick(l, k, blocked, forced)); // [T][k], descending
  const weights = experts.map((row, t) => softmax(row.map((e) => logits[t][e]))); // [T][k]
  return { scores: logits, experts, weights };
};

// ---------------------------------------------------------------------------------------------
// Attention with sinks
// ---------------------------------------------------------------------------------------------

/** Head h's softmax with its learned sink logit as one more key, whose column is then dropped: the sink can absorb attention. */
export function sinkSoftmax(sinks: tf.Tensor1D) {
  return (logits: tf.Tensor2D, h: number): tf.Tensor2D => {
    const [n, m] = logits.shape; // queries, keys
    const sink = tf.reshape(tf.slice(sinks, [h], [1]), [1, 1]); // [1, 1]
    const combined = tf.concat([logits, tf.broadcastTo(sink, [n, 1])], 1); // [n, m+1]
    const shifted = tf.sub(combined, tf.max(combined, 1, true));
    return tf.slice(tf.softmax(shifted), [0, 0], [n, m]) as tf.Tensor2D; // [n, m], sink column dropped
  };
}

function sinkAttention(w: AttentionWeights, s: AttentionShape, sinks: tf.Tensor1D) {
  const headSoftmax = sinkSoftmax(sinks);
  return (x: tf.Tensor2D, rope: RopeTables, kv?: KvSlot): tf.Tensor2D => {
    const T = x.shape[0];
    const { numHeads: H, numKvHeads: KV, headDim: hd } = s;
    const q = applyRope(tf.reshape(linear(x, w.q), [T, H, hd]) as tf.Tensor3D, rope); // [T, H, hd]
    const k = applyRope(tf.reshape(linear(x, w.k), [T, KV, hd]) as tf.Tensor3D, rope); // [T, KV, hd]
    const v = tf.reshape(linear(x, w.v), [T, KV, hd]) as tf.Tensor3D; // [T, KV, hd]
    const out = causalAttention(q, k, v, { scale: s.scale, slidingWindow: s.slidingWindow, headSoftmax }, kv); // [T, H·hd]
    return linear(out, w.o); // [T, D]
  };
}

// ---------------------------------------------------------------------------------------------
// Experts
// ---------------------------------------------------------------------------------------------

interface GptOssExpert {
  gateUp: Linear; // [D, 2I], de-interleaved at load: columns [0, I) gate, [I, 2I) up
  down: Linear; // [I, D]
}

/** gate_up_proj [E, D, 2I] (x·W layout, gate at even columns, up at odd) → per-expert [D, 2I] with gate first, read when routed to. */
function readExperts(r: WeightReader, p: string, E: number, D: number, I: number): ExpertBank {
  // The released checkpoints store both as MXFP4 blocks + scales; the reader dequantises them to this layout, one expert at a time.
  const shapes: Record<string, number[]> = {
    [`${p}.gate_up_proj`]: [E, D, 2 * I],
    [`${p}.gate_up_proj_bias`]: [E, 2 * I],
    [`${p}.down_proj`]: [E, I, D],
    [`${p}.down_proj_bias`]: [E, D],
  };
  for (const [name, shape] of Object.entries(shapes)) {
    r.checkShape(name, shape);
  }
  const entry = (s: WeightReader, name: string, e: number): Promise<Float32Array> => s.readEntry(`${p}.${name}`, shapes[`${p}.${name}`], e);
  return lazyExperts<GptOssExpert>(r, {
    numExperts: E,
    expertBytes: (3 * D * I + 2 * I + D) * 4,
    async read(s, e) {
      const gu = await entry(s, 'gate_up_proj', e); // [D, 2I], interleaved
      const guBias = await entry(s, 'gate_up_proj_bias', e); // [2I], interleaved
      const down = await entry(s, 'down_proj', e); // [I, D]
      const downBias = await entry(s, 'down_proj_bias', e); // [D]
      const w = new Float32Array(D * 2 * I);
      const b = new Float32Array(2 * I);
      for (let j = 0; j < I; j++) {
        b[j] = guBias[2 * j];
        b[I + j] = guBias[2 * j + 1];
        for (let d = 0; d < D; d++) {
          w[d * 2 * I + j] = gu[d * 2 * I + 2 * j];
          w[d * 2 * I + I + j] = gu[d * 2 * I + 2 * j + 1];
        }
      }
      // Adopted by the reader, so a load that fails or is aborted later frees these too.
      return {
        gateUp: { wT: s.adopt(tf.tensor2d(w, [D, 2 * I])), b: s.adopt(tf.tensor1d(b)) },
        down: { wT: s.adopt(tf.tensor2d(down, [I, D])), b: s.adopt(tf.tensor1d(downBias)) },
      };
    },
    parts: (e) => Object.entries(shapes).map(([name, shape]) => ({ name, range: WeightReader.entryRange(shape, e) })),
    tensors: (x) => [...linearTensors(x.gateUp), ...linearTensors(x.down)],
    run: clampedSwiglu,
  });
}

/** (clip(up, ±7) + 1) · g · σ(1.702 g) with g = min(gate, 7), then the down projection: x [n, D] → [n, D]. */
function clampedSwiglu(expert: GptOssExpert, x: tf.Tensor2D): tf.Tensor2D {
  const [gate, up] = tf.split(linear(x, expert.gateUp), 2, 1) as tf.Tensor2D[]; // [n, I] each
  const g = tf.minimum(gate, SWIGLU_LIMIT);
  const u = tf.clipByValue(up, -SWIGLU_LIMIT, SWIGLU_LIMIT);
  const glu = tf.mul(g, tf.sigmoid(tf.mul(g, SWIGLU_ALPHA))); // [n, I]
  return linear(tf.mul(tf.add(u, 1), glu) as tf.Tensor2D, expert.down); // [n, D]
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** Layer i: attention with sinks (sliding or full), and an MoE block of clamped SwiGLU experts. */
export async function readLayer(r: WeightReader, cfg: GptOssConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, numExperts: E } = cfg;
  const p = `model.layers.${i}`;
  const shape = llamaAttentionShape(cfg, { slidingWindow: cfg.slidingWindows[i] });
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: true, o: true });
  const sinks = await r.vector(`${p}.self_attn.sinks`, cfg.numHeads); // [H]
  const router = await r.router(`${p}.mlp.router`, E, D, { modelType: 'gpt_oss', key: 'num_local_experts' }, true); // [D, E] + [E]
  const experts = readExperts(r, `${p}.mlp.experts`, E, D, cfg.intermediateSize);
  return {
    layer: i,
    ...(await readLayerNorms(r, p, D)),
    attention: sinkAttention(attn, shape, sinks),
    ffn: { kind: 'moe', numExperts: E, topK: cfg.topK, router, route, experts, shared: null },
    owned: [...attentionTensors(attn), sinks, ...linearTensors(router)],
  };
}

export const family: FamilyDef<GptOssConfig> = {
  modelType: 'gpt_oss',
  parseConfig,
  readLayer,
  gate: () => ({
    gate: 'topk-softmax',
    gateDescription: 'Softmax over the k chosen router logits (the router has a bias): the k weights sum to 1.',
    hasSharedExpert: false,
  }),
};
