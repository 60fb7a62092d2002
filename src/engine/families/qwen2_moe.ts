/**
 * @file Qwen2-MoE (`model_type: qwen2_moe`), as transformers' modeling_qwen2_moe.py: attention with
 * q/k/v biases, sparse MoE layers (every `decoder_sparse_step`-th, minus `mlp_only_layers`) that add
 * a shared expert scaled by σ(shared_expert_gate·x), dense SwiGLU layers otherwise.
 * Router: softmax over all experts → top-k, renormalised only when `norm_topk_prob`.
 */
import { attentionTensors, readAttention, standardAttention } from '../attention';
import { ConfigReader } from '../config';
import type { FamilyDef } from '../family';
import type { DecoderLayer } from '../forward';
import { normalize, softmax, pick, type FamilyRouter } from '../routing';
import type { WeightReader } from '../weights';
import { llamaAttentionShape, readLayerNorms, readLlamaConfig, readSwigluExperts, swigluDenseFfn, swigluMoeFfn, type LlamaConfig } from './standard';

/** Which layers are sparse and which windowed: the keys Qwen2-MoE and Qwen3-MoE share, with the same defaults. */
export interface QwenMoeLayout {
  decoderSparseStep: number;
  mlpOnlyLayers: number[];
  /** Per layer: the sliding window, or null for full attention. */
  slidingWindows: (number | null)[];
}

export interface Qwen2MoeConfig extends LlamaConfig, QwenMoeLayout {
  intermediateSize: number; // dense layers' MLP width
  moeIntermediateSize: number; // I, per routed expert
  sharedExpertIntermediateSize: number; // shared expert width
  normTopkProb: boolean;
  qkvBias: boolean;
}

export function readQwenMoeLayout(c: ConfigReader, numLayers: number): QwenMoeLayout {
  // transformers' eager attention applies the window to every layer when use_sliding_window is set
  // (max_window_layers only steers its flash-attention path), so every layer gets it here too.
  const window = c.bool('use_sliding_window', false) ? c.optInt('sliding_window', 4096) : null;
  return {
    decoderSparseStep: c.int('decoder_sparse_step', 1),
    mlpOnlyLayers: c.intList('mlp_only_layers', []),
    slidingWindows: Array.from({ length: numLayers }, () => window),
  };
}

/** transformers' Qwen2MoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): Qwen2MoeConfig {
  const c = new ConfigReader(json, 'qwen2_moe');
  const common = readLlamaConfig(c, {
    numExperts: ['num_experts', 60],
    topK: 4,
    numKvHeads: null,
    readsHeadDim: false,
    maxPositions: 32768,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
  });
  return {
    ...common,
    ...readQwenMoeLayout(c, common.numLayers),
    intermediateSize: c.int('intermediate_size', 5632),
    moeIntermediateSize: c.int('moe_intermediate_size', 1408),
    sharedExpertIntermediateSize: c.int('shared_expert_intermediate_size', 5632),
    normTopkProb: c.bool('norm_topk_prob', false),
    qkvBias: c.bool('qkv_bias', true),
  };
}

/** transformers' rule for which layers are sparse. */
export function isMoeLayer(cfg: Pick<Qwen2MoeConfig, 'mlpOnlyLayers' | 'numExperts' | 'decoderSparseStep'>, i: number): boolean {
  return !cfg.mlpOnlyLayers.includes(i) && cfg.numExperts > 0 && (i + 1) % cfg.decoderSparseStep === 0;
}

/** softmax(l) → top-k → w = s, or s / Σ_S s with norm_topk_prob. (The shared expert's σ gate is applied by the decoder.) */
export function makeRouter(normTopkProb: boolean): FamilyRouter {
  return (logits, k, blocked, forced) => {
    const scores = logits.map(softmax); // [T][E]
    const experts = scores.map((s) => pick(s, k, blocked, forced)); // [T][k]
    const picked = experts.map((row, t) => row.map((e) => scores[t][e])); // [T][k]
    return { scores, experts, weights: normTopkProb ? picked.map(normalize) : picked };
  };
}

/** Layer i: attention with q/k/v biases, then a sparse MoE block with a gated shared expert, or a dense MLP. */
export async function readLayer(r: WeightReader, cfg: Qwen2MoeConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, numExperts: E } = cfg;
  const p = `model.layers.${i}`;
  const shape = llamaAttentionShape(cfg, { slidingWindow: cfg.slidingWindows[i] });
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.qkvBias, o: false });
  const common = {
    layer: i,
    ...(await readLayerNorms(r, p, D)),
    attention: standardAttention(attn, shape),
  };
  if (!isMoeLayer(cfg, i)) {
    const dense = swigluDenseFfn(await r.swiglu(`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`, `${p}.mlp.down_proj`, D, cfg.intermediateSize));
    return { ...common, ffn: dense.ffn, owned: [...attentionTensors(attn), ...dense.owned] };
  }
  const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'qwen2_moe', key: 'num_experts' }); // [D, E]
  const experts = readSwigluExperts(r, `${p}.mlp.experts`, E, D, cfg.moeIntermediateSize);
  const s = `${p}.mlp.shared_expert`;
  const shared = await r.swiglu(`${s}.gate_proj`, `${s}.up_proj`, `${s}.down_proj`, D, cfg.sharedExpertIntermediateSize);
  const sharedGate = await r.linear(`${p}.mlp.shared_expert_gate`, 1, D); // [D, 1]
  const route = makeRouter(cfg.normTopkProb);
  const moe = swigluMoeFfn({ router, route, experts, topK: cfg.topK, shared: { mlp: shared, gate: sharedGate } });
  return { ...common, ffn: moe.ffn, owned: [...attentionTensors(attn), ...moe.owned] };
}

export const family: FamilyDef<Qwen2MoeConfig> = {
  modelType: 'qwen2_moe',
  parseConfig,
  readLayer,
  gate: (cfg) => ({
    gate: cfg.normTopkProb ? 'softmax-renormalized' : 'softmax-raw',
    gateDescription: cfg.normTopkProb
      ? 'Softmax over all experts, top-k kept and renormalised to sum 1; a shared expert is added, weighted by σ(gate·x).'
      : 'Softmax probability of each chosen expert, not renormalised (the k weights sum to less than 1); a shared expert is added, weighted by σ(gate·x).',
    hasSharedExpert: true,
  }),
};
