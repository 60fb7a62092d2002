/**
 * @file OLMoE (`model_type: olmoe`), as transformers' modeling_olmoe.py: attention with RMSNorm over
 * the whole q and k projections (before splitting into heads), optional clip_qkv, and a sparse MoE
 * block in every layer.
 * Router: softmax over all experts → top-k, renormalised only when `norm_topk_prob` (false in OLMoE-1B-7B).
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

export interface OlmoeConfig {
  vocabSize: number;
  hiddenSize: number; // D
  intermediateSize: number; // I, per expert
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  numExperts: number; // E
  topK: number; // k
  normTopkProb: boolean;
  attentionBias: boolean;
  clipQkv: number | null;
  rmsNormEps: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  rope: RopeSpec;
}

/** transformers' OlmoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): OlmoeConfig {
  const c = new ConfigReader(json, 'olmoe');
  const hiddenSize = c.int('hidden_size');
  const numHeads = c.int('num_attention_heads');
  const numExperts = c.int('num_experts', 64);
  const maxPositions = c.int('max_position_embeddings', 4096);
  const headDim = c.headDim(hiddenSize, numHeads, false);
  const clip = json.clip_qkv === undefined || json.clip_qkv === null ? null : c.num('clip_qkv');
  return {
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    intermediateSize: c.int('intermediate_size', 2048),
    numLayers: c.int('num_hidden_layers'),
    numHeads,
    numKvHeads: c.int('num_key_value_heads', numHeads),
    headDim,
    numExperts,
    topK: c.int('num_experts_per_tok', 8, { max: numExperts }),
    normTopkProb: c.bool('norm_topk_prob', false),
    attentionBias: c.bool('attention_bias', false),
    clipQkv: clip,
    rmsNormEps: c.num('rms_norm_eps', 1e-5),
    maxPositions,
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    rope: { theta: c.num('rope_theta', 10000), dim: headDim, maxPositions, scaling: parseRopeScaling(json.rope_scaling, maxPositions) },
  };
}

/** softmax(l) → top-k → w = s (Σ_S w < 1), or s / Σ_S s with norm_topk_prob. */
export function makeRouter(normTopkProb: boolean): FamilyRouter {
  return (logits, k, blocked) => {
    const scores = logits.map(softmax); // [T][E]
    const experts = scores.map((s) => topk(s, k, blocked)); // [T][k]
    const picked = experts.map((row, t) => row.map((e) => scores[t][e])); // [T][k]
    return { scores, experts, weights: normTopkProb ? picked.map(normalize) : picked };
  };
}

export async function load(ckpt: Checkpoint, cfg: OlmoeConfig, onProgress?: (f: number) => void): Promise<LoadedFamily> {
  const r = new WeightReader(ckpt, onProgress);
  const { hiddenSize: D, intermediateSize: I, numExperts: E } = cfg;
  const route = makeRouter(cfg.normTopkProb);
  const shape: AttentionShape = {
    numHeads: cfg.numHeads,
    numKvHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    scale: 1 / Math.sqrt(cfg.headDim),
    qkNorm: 'whole',
    clipQkv: cfg.clipQkv,
    slidingWindow: null,
    eps: cfg.rmsNormEps,
  };
  const layers: DecoderLayer[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.attentionBias, o: cfg.attentionBias });
    const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'olmoe', key: 'num_experts' }); // [D, E]
    const experts = [];
    for (let e = 0; e < E; e++) {
      const x = `${p}.mlp.experts.${e}`;
      experts.push(await r.swiglu(`${x}.gate_proj`, `${x}.up_proj`, `${x}.down_proj`, D, I));
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
  return {
    info: {
      modelType: 'olmoe',
      numLayers: cfg.numLayers,
      numExperts: E,
      topK: cfg.topK,
      vocabSize: cfg.vocabSize,
      gate: cfg.normTopkProb ? 'softmax-renormalized' : 'softmax-raw',
      gateDescription: cfg.normTopkProb
        ? 'Softmax over all experts, top-k kept and renormalised: the k weights sum to 1.'
        : 'Softmax probability of each chosen expert, not renormalised: the k weights sum to less than 1.',
      hasSharedExpert: false,
      moeLayers: layers.map((l) => l.layer),
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

export const family: FamilyDef<OlmoeConfig> = { modelType: 'olmoe', parseConfig, load };
