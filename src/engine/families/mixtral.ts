/**
 * @file Mixtral (`model_type: mixtral`), as transformers' modeling_mixtral.py: Llama-style attention
 * (GQA, RoPE, optional sliding window) and a sparse MoE block in every layer.
 * Router: softmax over all experts → top-k → renormalise the k weights to sum 1.
 */
import { readAttention } from '../attention';
import { ConfigReader } from '../config';
import type { FamilyDef } from '../family';
import type { DecoderLayer } from '../forward';
import { normalize, softmax, pick, type FamilyRouter } from '../routing';
import type { WeightReader } from '../weights';
import { llamaAttentionShape, readLayerNorms, readLlamaConfig, readSwigluExperts, softmaxTopkGate, standardMoeLayer, type LlamaConfig } from './standard';

export interface MixtralConfig extends LlamaConfig {
  intermediateSize: number; // I, per expert
  slidingWindow: number | null;
}

/** transformers' MixtralConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): MixtralConfig {
  const c = new ConfigReader(json, 'mixtral');
  return {
    ...readLlamaConfig(c, {
      numExperts: ['num_local_experts', 8],
      topK: 2,
      numKvHeads: 8,
      readsHeadDim: true,
      maxPositions: 4096 * 32,
      rmsNormEps: 1e-5,
      ropeTheta: 1e6,
    }),
    intermediateSize: c.int('intermediate_size'),
    slidingWindow: c.optInt('sliding_window'),
  };
}

/** softmax(l) → top-k → w = s / Σ_S s. */
export const route: FamilyRouter = (logits, k, blocked, forced) => {
  const scores = logits.map(softmax); // [T][E]
  const experts = scores.map((s) => pick(s, k, blocked, forced)); // [T][k]
  const weights = experts.map((row, t) => normalize(row.map((e) => scores[t][e]))); // [T][k], sums to 1
  return { scores, experts, weights };
};

/** Layer i: standard attention and a sparse MoE block. */
export async function readLayer(r: WeightReader, cfg: MixtralConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, intermediateSize: I, numExperts: E } = cfg;
  const shape = llamaAttentionShape(cfg, { slidingWindow: cfg.slidingWindow });
  const p = `model.layers.${i}`;
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: false, o: false });
  const router = await r.router(`${p}.block_sparse_moe.gate`, E, D, { modelType: 'mixtral', key: 'num_local_experts' }); // [D, E]
  const experts = readSwigluExperts(r, `${p}.block_sparse_moe.experts`, E, D, I, ['w1', 'w3', 'w2']); // w1 gate, w3 up, w2 down
  return standardMoeLayer({ layer: i, norms: await readLayerNorms(r, p, D), attn, shape, router, route, experts, topK: cfg.topK });
}

export const family: FamilyDef<MixtralConfig> = {
  modelType: 'mixtral',
  parseConfig,
  readLayer,
  gate: () => ({ ...softmaxTopkGate(true), hasSharedExpert: false }),
};
