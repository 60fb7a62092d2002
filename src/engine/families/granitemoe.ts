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
import { lazyExperts, type ExpertBank } from '../experts';
import { swigluMlp, type SwigluWeights } from '../moe';
import { softmax, pick, type FamilyRouter } from '../routing';
import { swigluTensors, WeightReader } from '../weights';
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

/** The fused [E, 2I, D] / [E, D, I] expert tensors, one expert's slice read and transposed when routed to. */
function readExperts(r: WeightReader, p: string, E: number, D: number, I: number): ExpertBank {
  const [input, output] = [`${p}.input_linear.weight`, `${p}.output_linear.weight`];
  r.checkShape(input, [E, 2 * I, D]);
  r.checkShape(output, [E, D, I]);
  return lazyExperts<SwigluWeights>(r, {
    numExperts: E,
    expertBytes: 3 * D * I * 4,
    async read(s, e) {
      const gateUpRows = await s.readEntry(input, [E, 2 * I, D], e); // [2I, D]
      const downRows = await s.readEntry(output, [E, D, I], e); // [D, I]
      const [gateUp, down] = tf.tidy(() => [tf.transpose(tf.tensor2d(gateUpRows, [2 * I, D])), tf.transpose(tf.tensor2d(downRows, [D, I]))]) as tf.Tensor2D[]; // [D, 2I], [I, D]
      return { gateUp: { wT: s.adopt(gateUp), b: null }, down: { wT: s.adopt(down), b: null } };
    },
    parts: (e) => [
      { name: input, range: WeightReader.entryRange([E, 2 * I, D], e) },
      { name: output, range: WeightReader.entryRange([E, D, I], e) },
    ],
    tensors: swigluTensors,
    run: swigluMlp,
  });
}

/** Layer i: standard attention scaled by attention_multiplier, and a sparse MoE block of fused experts. */
export async function readLayer(r: WeightReader, cfg: GraniteMoeConfig, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, intermediateSize: I, numExperts: E } = cfg;
  const shape = llamaAttentionShape(cfg, { scale: cfg.attentionMultiplier });
  const p = `model.layers.${i}`;
  const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.attentionBias, o: cfg.attentionBias });
  const router = await r.router(`${p}.block_sparse_moe.router.layer`, E, D, { modelType: 'granitemoe', key: 'num_local_experts' }); // [D, E]
  const experts = readExperts(r, `${p}.block_sparse_moe`, E, D, I);
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
