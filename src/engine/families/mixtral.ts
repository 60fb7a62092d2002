/**
 * @file Mixtral (`model_type: mixtral`), as transformers' modeling_mixtral.py: Llama-style attention
 * (GQA, RoPE, optional sliding window) and a sparse MoE block in every layer.
 * Router: softmax over all experts → top-k → renormalise the k weights to sum 1.
 */
import type { Checkpoint } from '../checkpoint/checkpoint';
import { swigluExperts } from '../moe';
import { parseRopeScaling, type RopeSpec } from '../ops';
import { normalize, softmax, topk, type FamilyRouter } from '../routing';
import {
  ConfigReader,
  WeightReader,
  attentionTensors,
  linearTensors,
  readAttention,
  standardAttention,
  swigluTensors,
  tiedHead,
  type AttentionShape,
  type DecoderLayer,
  type FamilyDef,
  type LoadedFamily,
} from './base';

export interface MixtralConfig {
  vocabSize: number;
  hiddenSize: number; // D
  intermediateSize: number; // I, per expert
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  numExperts: number; // E
  topK: number; // k
  rmsNormEps: number;
  maxPositions: number;
  slidingWindow: number | null;
  tieWordEmbeddings: boolean;
  rope: RopeSpec;
}

/** transformers' MixtralConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): MixtralConfig {
  const c = new ConfigReader(json, 'mixtral');
  const hiddenSize = c.int('hidden_size');
  const numHeads = c.int('num_attention_heads');
  const numExperts = c.int('num_local_experts', 8);
  const headDim = c.headDim(hiddenSize, numHeads, true);
  const maxPositions = c.int('max_position_embeddings', 4096 * 32);
  return {
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    intermediateSize: c.int('intermediate_size'),
    numLayers: c.int('num_hidden_layers'),
    numHeads,
    numKvHeads: c.int('num_key_value_heads', 8),
    headDim,
    numExperts,
    topK: c.int('num_experts_per_tok', 2, { max: numExperts }),
    rmsNormEps: c.num('rms_norm_eps', 1e-5),
    maxPositions,
    slidingWindow: c.optInt('sliding_window'),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    rope: { theta: c.num('rope_theta', 1e6), dim: headDim, maxPositions, scaling: parseRopeScaling(json.rope_scaling, maxPositions) },
  };
}

/** softmax(l) → top-k → w = s / Σ_S s. */
export const route: FamilyRouter = (logits, k, blocked) => {
  const scores = logits.map(softmax); // [T][E]
  const experts = scores.map((s) => topk(s, k, blocked)); // [T][k]
  const weights = experts.map((row, t) => normalize(row.map((e) => scores[t][e]))); // [T][k], sums to 1
  return { scores, experts, weights };
};

export async function load(ckpt: Checkpoint, cfg: MixtralConfig, onProgress?: (f: number) => void): Promise<LoadedFamily> {
  const r = new WeightReader(ckpt, onProgress);
  const { hiddenSize: D, intermediateSize: I, numExperts: E } = cfg;
  const shape: AttentionShape = {
    numHeads: cfg.numHeads,
    numKvHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    scale: 1 / Math.sqrt(cfg.headDim),
    qkNorm: 'none',
    clipQkv: null,
    slidingWindow: cfg.slidingWindow,
    eps: cfg.rmsNormEps,
  };
  const layers: DecoderLayer[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: false, o: false });
    const router = await r.router(`${p}.block_sparse_moe.gate`, E, D, { modelType: 'mixtral', key: 'num_local_experts' }); // [D, E]
    const experts = [];
    for (let e = 0; e < E; e++) {
      const x = `${p}.block_sparse_moe.experts.${e}`;
      experts.push(await r.swiglu(`${x}.w1`, `${x}.w3`, `${x}.w2`, D, I)); // w1 gate, w3 up, w2 down
    }
    layers.push({
      layer: i,
      inputNorm: await r.vector(`${p}.input_layernorm.weight`, D),
      postNorm: await r.vector(`${p}.post_attention_layernorm.weight`, D),
      attention: standardAttention(attn, shape),
      ffn: { kind: 'moe', numExperts: E, topK: cfg.topK, router, route, experts: swigluExperts(experts), shared: null },
      owned: [...attentionTensors(attn), ...linearTensors(router), ...experts.flatMap(swigluTensors)],
    });
  }
  const embed = await r.matrix('model.embed_tokens.weight', cfg.vocabSize, D); // [V, D]
  const lmHead = cfg.tieWordEmbeddings ? tiedHead(embed) : await r.linear('lm_head', cfg.vocabSize, D);
  return {
    info: {
      modelType: 'mixtral',
      numLayers: cfg.numLayers,
      numExperts: E,
      topK: cfg.topK,
      vocabSize: cfg.vocabSize,
      gate: 'softmax-renormalized',
      gateDescription: 'Softmax over all experts, top-k kept and renormalised: the k weights sum to 1.',
      hasSharedExpert: false,
      moeLayers: layers.map((l) => l.layer),
    },
    maxContext: cfg.maxPositions,
    decoder: {
      embed,
      embeddingMultiplier: 1,
      layers,
      finalNorm: await r.vector('model.norm.weight', D),
      lmHead,
      logitsScaling: 1,
      residualMultiplier: 1,
      rmsNormEps: cfg.rmsNormEps,
      rope: cfg.rope,
    },
  };
}

export const family: FamilyDef<MixtralConfig> = { modelType: 'mixtral', parseConfig, load };
