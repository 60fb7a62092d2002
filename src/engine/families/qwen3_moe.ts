/**
 * @file Qwen3-MoE (`model_type: qwen3_moe`), as transformers' modeling_qwen3_moe.py: attention with a
 * per-head RMSNorm on q and k before RoPE (no biases by default), sparse MoE layers chosen as in
 * Qwen2-MoE, no shared expert.
 * Router: softmax over all experts → top-k, renormalised only when `norm_topk_prob` (true in 30B-A3B).
 */
import type { Checkpoint } from '../checkpoint/checkpoint';
import { swigluExperts, swigluMlp } from '../moe';
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
import { isMoeLayer } from './qwen2_moe';

export interface Qwen3MoeConfig {
  vocabSize: number;
  hiddenSize: number; // D
  intermediateSize: number; // dense layers' MLP width
  moeIntermediateSize: number; // I, per expert
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  numExperts: number; // E
  topK: number; // k
  normTopkProb: boolean;
  decoderSparseStep: number;
  mlpOnlyLayers: number[];
  attentionBias: boolean;
  rmsNormEps: number;
  maxPositions: number;
  slidingWindows: (number | null)[];
  tieWordEmbeddings: boolean;
  rope: RopeSpec;
}

/** transformers' Qwen3MoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): Qwen3MoeConfig {
  const c = new ConfigReader(json, 'qwen3_moe');
  const hiddenSize = c.int('hidden_size');
  const numHeads = c.int('num_attention_heads');
  const numLayers = c.int('num_hidden_layers');
  const numExperts = c.int('num_experts', 128);
  const maxPositions = c.int('max_position_embeddings', 32768);
  const headDim = c.headDim(hiddenSize, numHeads, true);
  // As Qwen2-MoE: with use_sliding_window, the eager mask is windowed in every layer.
  const window = c.bool('use_sliding_window', false) ? c.optInt('sliding_window', 4096) : null;
  return {
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    intermediateSize: c.int('intermediate_size', 6144),
    moeIntermediateSize: c.int('moe_intermediate_size', 768),
    numLayers,
    numHeads,
    numKvHeads: c.int('num_key_value_heads', 4),
    headDim,
    numExperts,
    topK: c.int('num_experts_per_tok', 8, { max: numExperts }),
    normTopkProb: c.bool('norm_topk_prob', false),
    decoderSparseStep: c.int('decoder_sparse_step', 1),
    mlpOnlyLayers: c.intList('mlp_only_layers', []),
    attentionBias: c.bool('attention_bias', false),
    rmsNormEps: c.num('rms_norm_eps', 1e-6),
    maxPositions,
    slidingWindows: Array.from({ length: numLayers }, () => window),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    rope: { theta: c.num('rope_theta', 10000), dim: headDim, maxPositions, scaling: parseRopeScaling(json.rope_scaling, maxPositions) },
  };
}

/** softmax(l) → top-k → w = s, or s / Σ_S s with norm_topk_prob. */
export function makeRouter(normTopkProb: boolean): FamilyRouter {
  return (logits, k, blocked) => {
    const scores = logits.map(softmax); // [T][E]
    const experts = scores.map((s) => topk(s, k, blocked)); // [T][k]
    const picked = experts.map((row, t) => row.map((e) => scores[t][e])); // [T][k]
    return { scores, experts, weights: normTopkProb ? picked.map(normalize) : picked };
  };
}

export async function load(ckpt: Checkpoint, cfg: Qwen3MoeConfig, onProgress?: (f: number) => void): Promise<LoadedFamily> {
  const r = new WeightReader(ckpt, onProgress);
  const { hiddenSize: D, numExperts: E } = cfg;
  const route = makeRouter(cfg.normTopkProb);
  const layers: DecoderLayer[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const shape: AttentionShape = {
      numHeads: cfg.numHeads,
      numKvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      scale: 1 / Math.sqrt(cfg.headDim),
      qkNorm: 'per-head',
      clipQkv: null,
      slidingWindow: cfg.slidingWindows[i],
      eps: cfg.rmsNormEps,
    };
    const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.attentionBias, o: cfg.attentionBias });
    const common = {
      layer: i,
      inputNorm: await r.vector(`${p}.input_layernorm.weight`, D),
      postNorm: await r.vector(`${p}.post_attention_layernorm.weight`, D),
      attention: standardAttention(attn, shape),
    };
    if (!isMoeLayer(cfg, i)) {
      const mlp = await r.swiglu(`${p}.mlp.gate_proj`, `${p}.mlp.up_proj`, `${p}.mlp.down_proj`, D, cfg.intermediateSize);
      layers.push({ ...common, ffn: { kind: 'dense', mlp: (x) => swigluMlp(mlp, x) }, owned: [...attentionTensors(attn), ...swigluTensors(mlp)] });
      continue;
    }
    const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'qwen3_moe', key: 'num_experts' }); // [D, E]
    const experts = [];
    for (let e = 0; e < E; e++) {
      const x = `${p}.mlp.experts.${e}`;
      experts.push(await r.swiglu(`${x}.gate_proj`, `${x}.up_proj`, `${x}.down_proj`, D, cfg.moeIntermediateSize));
    }
    layers.push({
      ...common,
      ffn: { kind: 'moe', numExperts: E, topK: cfg.topK, router, route, experts: swigluExperts(experts), shared: null },
      owned: [...attentionTensors(attn), ...linearTensors(router), ...experts.flatMap(swigluTensors)],
    });
  }
  const embed = await r.matrix('model.embed_tokens.weight', cfg.vocabSize, D); // [V, D]
  return {
    info: {
      modelType: 'qwen3_moe',
      numLayers: cfg.numLayers,
      numExperts: E,
      topK: cfg.topK,
      vocabSize: cfg.vocabSize,
      gate: cfg.normTopkProb ? 'softmax-renormalized' : 'softmax-raw',
      gateDescription: cfg.normTopkProb
        ? 'Softmax over all experts, top-k kept and renormalised: the k weights sum to 1.'
        : 'Softmax probability of each chosen expert, not renormalised: the k weights sum to less than 1.',
      hasSharedExpert: false,
      moeLayers: layers.filter((l) => l.ffn.kind === 'moe').map((l) => l.layer),
    },
    maxContext: cfg.maxPositions,
    decoder: {
      embed,
      embeddingMultiplier: 1,
      layers,
      finalNorm: await r.vector('model.norm.weight', D),
      lmHead: cfg.tieWordEmbeddings ? tiedHead(embed) : await r.linear('lm_head', cfg.vocabSize, D),
      logitsScaling: 1,
      residualMultiplier: 1,
      rmsNormEps: cfg.rmsNormEps,
      rope: cfg.rope,
    },
  };
}

export const family: FamilyDef<Qwen3MoeConfig> = { modelType: 'qwen3_moe', parseConfig, load };
