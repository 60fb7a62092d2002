/**
 * @file GraniteMoE (`model_type: granitemoe`), as transformers' modeling_granitemoe.py: Llama-style
 * attention scaled by `attention_multiplier` (instead of 1/√hd), embeddings × `embedding_multiplier`,
 * every sublayer output × `residual_multiplier` before the residual add, logits ÷ `logits_scaling`.
 * Experts are stored fused: input_linear [E, 2I, D] (first half gate, second up), output_linear [E, D, I].
 * Router: top-k of the raw logits → softmax over the k chosen logits.
 */
import { readAttention } from '../attention';
import { tf } from '../backend';
import { ConfigReader } from '../config';
import type { FamilyDef } from '../family';
import type { DecoderHooks, DecoderLayer } from '../forward';
import type { SwigluWeights } from '../moe';
import { softmax, pick, type FamilyRouter } from '../routing';
import type { WeightReader } from '../weights';
import { llamaAttentionShape, readLayerNorms, readLlamaConfig, standardMoeLayer, type LlamaConfig } from './standard';

export interface GraniteMoeConfig extends LlamaConfig {
  intermediateSize: number; // I, per expert
  attentionBias: boolean;
  embeddingMultiplier: number;
  attentionMultiplier: number;
  residualMultiplier: number;
  logitsScaling: number;
}

/** transformers' GraniteMoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): GraniteMoeConfig {
  const c = new ConfigReader(json, 'granitemoe');
  const common = readLlamaConfig(c, {
    numExperts: ['num_local_experts', 8],
    topK: 2,
    numKvHeads: null,
    readsHeadDim: false,
    maxPositions: 2048,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
  });
  const logitsScaling = c.num('logits_scaling', 1);
  if (logitsScaling === 0) {
    throw new Error("config.json (granitemoe): 'logits_scaling' must not be 0");
  }
  return {
    ...common,
    intermediateSize: c.int('intermediate_size', 11008),
    attentionBias: c.bool('attention_bias', false),
    embeddingMultiplier: c.num('embedding_multiplier', 1),
    attentionMultiplier: c.num('attention_multiplier', 1),
    residualMultiplier: c.num('residual_multiplier', 1),
    logitsScaling,
  };
}

/** top-k of the raw logits l → w = softmax over the k chosen logits. Scores are the raw logits. */
export const route: FamilyRouter = (logits, k, blocked, forced) => {
  const experts = logits.map((l) => pick(l, k, blocked, forced)); // [T][k]
  const weights = experts.map((row, t) => softmax(row.map((e) => logits[t][e]))); // [T][k], sums to 1
  return { scores: logits, experts, weights };
};

/** Splits the fused [E, 2I, D] / [E, D, I] expert tensors into per-expert transposed SwiGLU weights. */
async function readExperts(r: WeightReader, p: string, E: number, D: number, I: number): Promise<SwigluWeights[]> {
  const input = await r.read(`${p}.input_linear.weight`, [E, 2 * I, D]);
  const output = await r.read(`${p}.output_linear.weight`, [E, D, I]);
  return Array.from({ length: E }, (_, e) => {
    const [gateUp, down] = tf.tidy(() => [
      tf.transpose(tf.tensor2d(input.subarray(e * 2 * I * D, (e + 1) * 2 * I * D), [2 * I, D])), // [D, 2I]
      tf.transpose(tf.tensor2d(output.subarray(e * D * I, (e + 1) * D * I), [D, I])), // [I, D]
    ]) as tf.Tensor2D[];
    return { gateUp: { wT: r.adopt(gateUp), b: null }, down: { wT: r.adopt(down), b: null } };
  });
}

/** Layer i: standard attention scaled by attention_multiplier, and a sparse MoE block of fused experts. */
export async function readLayer(r: WeightReader, cfg: GraniteMoeConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, intermediateSize: I, numExperts: E } = cfg;
  const shape = llamaAttentionShape(cfg, { scale: cfg.attentionMultiplier });
  const p = `model.layers.${i}`;
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.attentionBias, o: cfg.attentionBias });
  const router = await r.router(`${p}.block_sparse_moe.router.layer`, E, D, { modelType: 'granitemoe', key: 'num_local_experts' }); // [D, E]
  const experts = await readExperts(r, `${p}.block_sparse_moe`, E, D, I);
  return standardMoeLayer({ layer: i, norms: await readLayerNorms(r, p, D), attn, shape, router, route, experts, topK: cfg.topK });
}

/** GraniteMoE's scalings of the residual stream: embeddings ×, every sublayer output ×, logits ÷ (skipped when 1). */
export function hooks(cfg: GraniteMoeConfig): DecoderHooks {
  const { embeddingMultiplier: em, residualMultiplier: rm, logitsScaling: ls } = cfg;
  return {
    embedding: em === 1 ? undefined : (e) => tf.mul(e, em), // [T, D]
    residual: rm === 1 ? undefined : (branch) => tf.mul(branch, rm), // [T, D]
    logits: ls === 1 ? undefined : (logits) => tf.div(logits, ls), // [n, V]
  };
}

export const family: FamilyDef<GraniteMoeConfig> = {
  modelType: 'granitemoe',
  parseConfig,
  readLayer,
  gate: () => ({
    gate: 'topk-softmax',
    gateDescription: 'Top-k of the raw router logits, then a softmax over just those k: the k weights sum to 1.',
    hasSharedExpert: false,
  }),
  hooks,
};
