/**
 * @file Qwen2-MoE (`model_type: qwen2_moe`), as transformers' modeling_qwen2_moe.py: attention with
 * q/k/v biases, sparse MoE layers (every `decoder_sparse_step`-th, minus `mlp_only_layers`) that add
 * a shared expert scaled by σ(shared_expert_gate·x), dense SwiGLU layers otherwise.
 * Router: softmax over all experts → top-k, renormalised only when `norm_topk_prob`.
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

export interface Qwen2MoeConfig {
  vocabSize: number;
  hiddenSize: number; // D
  intermediateSize: number; // dense layers' MLP width
  moeIntermediateSize: number; // I, per routed expert
  sharedExpertIntermediateSize: number; // shared expert width
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  numExperts: number; // E
  topK: number; // k
  normTopkProb: boolean;
  decoderSparseStep: number;
  mlpOnlyLayers: number[];
  qkvBias: boolean;
  rmsNormEps: number;
  maxPositions: number;
  /** Per layer: the sliding window, or null for full attention. */
  slidingWindows: (number | null)[];
  tieWordEmbeddings: boolean;
  rope: RopeSpec;
}

/** transformers' Qwen2MoeConfig defaults; the sizes that shape tensors are required. */
export function parseConfig(json: Record<string, unknown>): Qwen2MoeConfig {
  const c = new ConfigReader(json, 'qwen2_moe');
  const hiddenSize = c.int('hidden_size');
  const numHeads = c.int('num_attention_heads');
  const numLayers = c.int('num_hidden_layers');
  const numExperts = c.int('num_experts', 60);
  const maxPositions = c.int('max_position_embeddings', 32768);
  const headDim = c.headDim(hiddenSize, numHeads, false);
  // transformers' eager attention applies the window to every layer when use_sliding_window is set
  // (max_window_layers only steers its flash-attention path), so every layer gets it here too.
  const window = c.bool('use_sliding_window', false) ? c.optInt('sliding_window', 4096) : null;
  return {
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    intermediateSize: c.int('intermediate_size', 5632),
    moeIntermediateSize: c.int('moe_intermediate_size', 1408),
    sharedExpertIntermediateSize: c.int('shared_expert_intermediate_size', 5632),
    numLayers,
    numHeads,
    numKvHeads: c.int('num_key_value_heads', numHeads),
    headDim,
    numExperts,
    topK: c.int('num_experts_per_tok', 4, { max: numExperts }),
    normTopkProb: c.bool('norm_topk_prob', false),
    decoderSparseStep: c.int('decoder_sparse_step', 1),
    mlpOnlyLayers: c.intList('mlp_only_layers', []),
    qkvBias: c.bool('qkv_bias', true),
    rmsNormEps: c.num('rms_norm_eps', 1e-6),
    maxPositions,
    slidingWindows: Array.from({ length: numLayers }, () => window),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    rope: { theta: c.num('rope_theta', 10000), dim: headDim, maxPositions, scaling: parseRopeScaling(json.rope_scaling, maxPositions) },
  };
}

/** transformers' rule for which layers are sparse. */
export function isMoeLayer(cfg: Pick<Qwen2MoeConfig, 'mlpOnlyLayers' | 'numExperts' | 'decoderSparseStep'>, i: number): boolean {
  return !cfg.mlpOnlyLayers.includes(i) && cfg.numExperts > 0 && (i + 1) % cfg.decoderSparseStep === 0;
}

/** softmax(l) → top-k → w = s, or s / Σ_S s with norm_topk_prob. (The shared expert's σ gate is applied by the decoder.) */
export function makeRouter(normTopkProb: boolean): FamilyRouter {
  return (logits, k, blocked) => {
    const scores = logits.map(softmax); // [T][E]
    const experts = scores.map((s) => topk(s, k, blocked)); // [T][k]
    const picked = experts.map((row, t) => row.map((e) => scores[t][e])); // [T][k]
    return { scores, experts, weights: normTopkProb ? picked.map(normalize) : picked };
  };
}

export async function load(ckpt: Checkpoint, cfg: Qwen2MoeConfig, onProgress?: (f: number) => void): Promise<LoadedFamily> {
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
      qkNorm: 'none',
      clipQkv: null,
      slidingWindow: cfg.slidingWindows[i],
      eps: cfg.rmsNormEps,
    };
    const attn = await readAttention(r, `${p}.self_attn`, D, shape, { qkv: cfg.qkvBias, o: false });
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
    const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'qwen2_moe', key: 'num_experts' }); // [D, E]
    const experts = [];
    for (let e = 0; e < E; e++) {
      const x = `${p}.mlp.experts.${e}`;
      experts.push(await r.swiglu(`${x}.gate_proj`, `${x}.up_proj`, `${x}.down_proj`, D, cfg.moeIntermediateSize));
    }
    const s = `${p}.mlp.shared_expert`;
    const shared = await r.swiglu(`${s}.gate_proj`, `${s}.up_proj`, `${s}.down_proj`, D, cfg.sharedExpertIntermediateSize);
    const sharedGate = await r.linear(`${p}.mlp.shared_expert_gate`, 1, D); // [D, 1]
    layers.push({
      ...common,
      ffn: {
        kind: 'moe',
        numExperts: E,
        topK: cfg.topK,
        router,
        route,
        experts: swigluExperts(experts),
        shared: { mlp: (x) => swigluMlp(shared, x), gate: sharedGate },
      },
      owned: [
        ...attentionTensors(attn),
        ...linearTensors(router),
        ...experts.flatMap(swigluTensors),
        ...swigluTensors(shared),
        ...linearTensors(sharedGate),
      ],
    });
  }
  const embed = await r.matrix('model.embed_tokens.weight', cfg.vocabSize, D); // [V, D]
  return {
    info: {
      modelType: 'qwen2_moe',
      numLayers: cfg.numLayers,
      numExperts: E,
      topK: cfg.topK,
      vocabSize: cfg.vocabSize,
      gate: cfg.normTopkProb ? 'softmax-renormalized' : 'softmax-raw',
      gateDescription: cfg.normTopkProb
        ? 'Softmax over all experts, top-k kept and renormalised to sum 1; a shared expert is added, weighted by σ(gate·x).'
        : 'Softmax probability of each chosen expert, not renormalised (the k weights sum to less than 1); a shared expert is added, weighted by σ(gate·x).',
      hasSharedExpert: true,
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

export const family: FamilyDef<Qwen2MoeConfig> = { modelType: 'qwen2_moe', parseConfig, load };
