/**
 * @file OLMoE (`model_type: olmoe`), as transformers' modeling_olmoe.py: attention with RMSNorm over
 * the whole q and k projections (before splitting into heads), optional clip_qkv, and a sparse MoE
 * block in every layer.
 * Router: softmax over all experts → top-k, renormalised only when `norm_topk_prob` (false in OLMoE-1B-7B).
 */
import { readAttention } from '../attention';
import { ConfigReader } from '../config';
import type { FamilyDef } from '../family';
import type { DecoderLayer } from '../forward';
import { normalize, softmax, pick, type FamilyRouter } from '../routing';
import type { WeightReader } from '../weights';
import { llamaAttentionShape, readLayerNorms, readLlamaConfig, readSwigluExperts, softmaxTopkGate, standardMoeLayer, type LlamaConfig } from './standard';

export interface OlmoeConfig extends LlamaConfig {
  intermediateSize: number; // I, per expert
  normTopkProb: boolean;
  attentionBias: boolean;
  clipQkv: number | null;
}

/** transformers' OlmoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): OlmoeConfig {
  const c = new ConfigReader(json, 'olmoe');
  return {
    ...readLlamaConfig(c, {
      numExperts: ['num_experts', 64],
      topK: 8,
      numKvHeads: null,
      readsHeadDim: false,
      maxPositions: 4096,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
    }),
    intermediateSize: c.int('intermediate_size', 2048),
    normTopkProb: c.bool('norm_topk_prob', false),
    attentionBias: c.bool('attention_bias', false),
    clipQkv: json.clip_qkv === undefined || json.clip_qkv === null ? null : c.num('clip_qkv'),
  };
}

/** softmax(l) → top-k → w = s (Σ_S w < 1), or s / Σ_S s with norm_topk_prob. */
export function makeRouter(normTopkProb: boolean): FamilyRouter {
  return (logits, k, blocked, forced) => {
    const scores = logits.map(softmax); // [T][E]
    const experts = scores.map((s) => pick(s, k, blocked, forced)); // [T][k]
    const picked = experts.map((row, t) => row.map((e) => scores[t][e])); // [T][k]
    return { scores, experts, weights: normTopkProb ? picked.map(normalize) : picked };
  };
}

/** Layer i: attention with q/k norm over the whole projection, and a sparse MoE block. */
export async function readLayer(r: WeightReader, cfg: OlmoeConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, intermediateSize: I, numExperts: E } = cfg;
  const shape = llamaAttentionShape(cfg, { qkNorm: 'whole', clipQkv: cfg.clipQkv });
  const p = `model.layers.${i}`;
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.attentionBias, o: cfg.attentionBias });
  const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'olmoe', key: 'num_experts' }); // [D, E]
  const experts = readSwigluExperts(r, `${p}.mlp.experts`, E, D, I);
  const route = makeRouter(cfg.normTopkProb);
  return standardMoeLayer({ layer: i, norms: await readLayerNorms(r, p, D), attn, shape, router, route, experts, topK: cfg.topK });
}

export const family: FamilyDef<OlmoeConfig> = {
  modelType: 'olmoe',
  parseConfig,
  readLayer,
  gate: (cfg) => ({ ...softmaxTopkGate(cfg.normTopkProb), hasSharedExpert: false }),
};
