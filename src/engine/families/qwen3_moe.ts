/**
 * @file Qwen3-MoE (`model_type: qwen3_moe`), as transformers' modeling_qwen3_moe.py: attention with a
 * per-head RMSNorm on q and k before RoPE (no biases by default), sparse MoE layers chosen as in
 * Qwen2-MoE, no shared expert.
 * Router: softmax over all experts → top-k, renormalised only when `norm_topk_prob` (true in 30B-A3B).
 */
import { attentionTensors, readAttention, standardAttention } from '../attention';
import { ConfigReader } from '../config';
import type { FamilyDef } from '../family';
import type { DecoderLayer } from '../forward';
import { normalize, softmax, pick, type FamilyRouter } from '../routing';
import type { WeightReader } from '../weights';
import { isMoeLayer, readQwenMoeLayout, type QwenMoeLayout } from './qwen2_moe';
import { llamaAttentionShape, readLayerNorms, readLlamaConfig, readSwigluExperts, softmaxTopkGate, standardMoeLayer, swigluDenseFfn, type LlamaConfig } from './standard';

export interface Qwen3MoeConfig extends LlamaConfig, QwenMoeLayout {
  intermediateSize: number; // dense layers' MLP width
  moeIntermediateSize: number; // I, per expert
  normTopkProb: boolean;
  attentionBias: boolean;
}

/** transformers' Qwen3MoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): Qwen3MoeConfig {
  const c = new ConfigReader(json, 'qwen3_moe');
  const common = readLlamaConfig(c, {
    numExperts: ['num_experts', 128],
    topK: 8,
    numKvHeads: 4,
    readsHeadDim: true,
    maxPositions: 32768,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
  });
  return {
    ...common,
    ...readQwenMoeLayout(c, common.numLayers), // as Qwen2-MoE, defaults included
    intermediateSize: c.int('intermediate_size', 6144),
    moeIntermediateSize: c.int('moe_intermediate_size', 768),
    normTopkProb: c.bool('norm_topk_prob', false),
    attentionBias: c.bool('attention_bias', false),
  };
}

/** softmax(l) → top-k → w = s, or s / Σ_S s with norm_topk_prob. */
export function makeRouter(normTopkProb: boolean): FamilyRouter {
  return (logits, k, blocked, forced) => {
    const scores = logits.map(softmax); // [T][E]
    const experts = scores.map((s) => pick(s, k, blocked, forced)); // [T][k]
    const picked = experts.map((row, t) => row.map((e) => scores[t][e])); // [T][k]
    return { scores, experts, weights: normTopkProb ? picked.map(normalize) : picked };
  };
}

/** Layer i: attention with per-head q/k norm, then a sparse MoE block or a dense MLP. */
export async function readLayer(r: WeightReader, cfg: Qwen3MoeConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, numExperts: E } = cfg;
  const p = `model.layers.${i}`;
  const shape = llamaAttentionShape(cfg, { qkNorm: 'per-head', slidingWindow: cfg.slidingWindows[i] });
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.attentionBias, o: cfg.attentionBias });
  const norms = await readLayerNorms(r, p, D);
  if (!isMoeLayer(cfg, i)) {
    const dense = swigluDenseFfn(await r.swiglu(`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`, `${p}.mlp.down_proj`, D, cfg.intermediateSize));
    return { layer: i, ...norms, attention: standardAttention(attn, shape), ffn: dense.ffn, owned: [...attentionTensors(attn), ...dense.owned] };
  }
  const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'qwen3_moe', key: 'num_experts' }); // [D, E]
  const experts = readSwigluExperts(r, `${p}.mlp.experts`, E, D, cfg.moeIntermediateSize);
  const route = makeRouter(cfg.normTopkProb);
  return standardMoeLayer({ layer: i, norms, attn, shape, router, route, experts, topK: cfg.topK });
}

export const family: FamilyDef<Qwen3MoeConfig> = {
  modelType: 'qwen3_moe',
  parseConfig,
  readLayer,
  gate: (cfg) => ({ ...softmaxTopkGate(cfg.normTopkProb), hasSharedExpert: false }),
};
