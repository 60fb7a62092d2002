/**
 * @file The Llama-style pieces most families share: the common config.json keys (each family passes
 * its own transformers defaults), the GQA attention shape, the two per-layer norms, a bank of
 * SwiGLU experts read on demand, and the MoE and dense FFNs built from them.
 * Routers stay in the family files, where their order of operations can be read.
 */
import { standardAttention, attentionTensors, type AttentionShape, type AttentionWeights } from '../attention';
import type { tf } from '../backend';
import type { ConfigReader } from '../config';
import type { FamilyConfig, GateInfo } from '../family';
import type { DecoderLayer, DenseFfn, MoeFfn } from '../forward';
import { lazyExperts, type ExpertBank } from '../experts';
import { swigluMlp, type SwigluWeights } from '../moe';
import type { Linear } from '../ops';
import type { FamilyRouter } from '../routing';
import { linearTensors, swigluTensors, type WeightReader } from '../weights';

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/** The common config plus grouped-query attention heads. */
export interface LlamaConfig extends FamilyConfig {
  numHeads: number; // H
  numKvHeads: number; // KV
  headDim: number; // hd
}

/**
 * One family's transformers defaults for the Llama-style keys. A size given as undefined is
 * required (most families refuse to guess the shapes of a checkpoint).
 */
export interface LlamaDefaults {
  vocabSize?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  /** The config key of the routed expert count, and its default. */
  numExperts: ['num_experts' | 'num_local_experts', number];
  topK: number;
  /** null: transformers' None, i.e. as many KV heads as attention heads. */
  numKvHeads: number | null;
  /** Whether the family's config has a `head_dim` key (else hidden_size / num_attention_heads). */
  readsHeadDim: boolean;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Used when config.json has no rope_scaling key at all (gpt-oss's YaRN); default none. */
  ropeScaling?: unknown;
}

/** Reads the Llama-style keys with a family's defaults; the family reads the rest itself. */
export function readLlamaConfig(c: ConfigReader, d: LlamaDefaults): LlamaConfig {
  const hiddenSize = c.int('hidden_size', d.hiddenSize);
  const numHeads = c.int('num_attention_heads', d.numHeads);
  const numLayers = c.int('num_hidden_layers', d.numLayers);
  const numExperts = c.int(d.numExperts[0], d.numExperts[1]);
  const maxPositions = c.int('max_position_embeddings', d.maxPositions);
  const headDim = c.headDim(hiddenSize, numHeads, d.readsHeadDim);
  return {
    vocabSize: c.int('vocab_size', d.vocabSize),
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads: c.int('num_key_value_heads', d.numKvHeads ?? numHeads),
    headDim,
    numExperts,
    topK: c.int('num_experts_per_tok', d.topK, { max: numExperts }),
    rmsNormEps: c.positive('rms_norm_eps', d.rmsNormEps),
    maxPositions,
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    rope: c.rope(headDim, maxPositions, d.ropeTheta, d.ropeScaling),
  };
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** The attention shape of a Llama-style config: q·kᵀ / √hd, no q/k norm or clip, full attention, unless `overrides` says otherwise. */
export function llamaAttentionShape(
  cfg: LlamaConfig,
  overrides: Partial<Pick<AttentionShape, 'scale' | 'qkNorm' | 'clipQkv' | 'slidingWindow'>> = {},
): AttentionShape {
  return {
    numHeads: cfg.numHeads,
    numKvHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    scale: overrides.scale ?? 1 / Math.sqrt(cfg.headDim),
    qkNorm: overrides.qkNorm ?? 'none',
    clipQkv: overrides.clipQkv ?? null,
    slidingWindow: overrides.slidingWindow ?? null,
    eps: cfg.rmsNormEps,
  };
}

/** A layer's RMSNorm weights before attention and before the FFN, under `p` ('model.layers.3'). */
export async function readLayerNorms(r: WeightReader, p: string, D: number): Promise<Pick<DecoderLayer, 'inputNorm' | 'postNorm'>> {
  return {
    inputNorm: await r.vector(`${p}.input_layernorm.weight`, D), // [D]
    postNorm: await r.vector(`${p}.post_attention_layernorm.weight`, D), // [D]
  };
}

/**
 * E SwiGLU experts stored one module each, `${prefix}.${e}.{gate,up,down}` (Mixtral names them w1, w3, w2),
 * read when routed to. Their shapes are checked from the headers now, so a wrong size fails the load.
 */
export function readSwigluExperts(
  r: WeightReader,
  prefix: string,
  E: number,
  D: number,
  I: number,
  [gate, up, down]: [string, string, string] = ['gate_proj', 'up_proj', 'down_proj'],
): ExpertBank {
  const names = (e: number): [string, string, string] => [`${prefix}.${e}.${gate}`, `${prefix}.${e}.${up}`, `${prefix}.${e}.${down}`];
  for (let e = 0; e < E; e++) {
    const [g, u, d] = names(e);
    r.checkShape(`${g}.weight`, [I, D]);
    r.checkShape(`${u}.weight`, [I, D]);
    r.checkShape(`${d}.weight`, [D, I]);
  }
  return lazyExperts<SwigluWeights>(r, {
    numExperts: E,
    expertBytes: 3 * D * I * 4,
    read: (s, e) => s.swiglu(...names(e), D, I),
    parts: (e) => names(e).map((n) => ({ name: `${n}.weight` })),
    tensors: swigluTensors,
    run: swigluMlp,
  });
}

/** The parts of a layer of standard attention and routed SwiGLU experts with no shared expert. */
export interface StandardMoeParts {
  layer: number;
  norms: Pick<DecoderLayer, 'inputNorm' | 'postNorm'>;
  attn: AttentionWeights;
  shape: AttentionShape;
  router: Linear; // [D, E]
  /** The family's own router (top-k and gate weights from the logits). */
  route: FamilyRouter;
  experts: ExpertBank; // E
  topK: number;
}

/** Mixtral, OLMoE, Qwen3-MoE and GraniteMoE layers: the layer owns every tensor passed in. */
export function standardMoeLayer(l: StandardMoeParts): DecoderLayer {
  const moe = swigluMoeFfn({ router: l.router, route: l.route, experts: l.experts, topK: l.topK, shared: null });
  return { layer: l.layer, ...l.norms, attention: standardAttention(l.attn, l.shape), ffn: moe.ffn, owned: [...attentionTensors(l.attn), ...moe.owned] };
}

/**
 * Routed SwiGLU experts, plus a shared SwiGLU expert on every token when given: scaled by σ(x·gate)
 * with a gate (Qwen2-MoE), by 1 without (DeepSeek). Returns the FFN and the tensors it owns (the
 * experts' bank frees its own).
 */
export function swigluMoeFfn(m: {
  router: Linear; // [D, E]
  route: FamilyRouter;
  experts: ExpertBank; // E
  topK: number;
  shared: { mlp: SwigluWeights; gate: Linear | null } | null;
}): { ffn: MoeFfn; owned: tf.Tensor[] } {
  const shared = m.shared;
  return {
    ffn: {
      kind: 'moe',
      numExperts: m.experts.numExperts,
      topK: m.topK,
      router: m.router,
      route: m.route,
      experts: m.experts,
      shared: shared ? { mlp: (x) => swigluMlp(shared.mlp, x), gate: shared.gate } : null,
    },
    owned: [...linearTensors(m.router), ...(shared ? [...swigluTensors(shared.mlp), ...linearTensors(shared.gate)] : [])],
  };
}

/** A dense SwiGLU FFN (Qwen's mlp_only_layers, DeepSeek's first layers) and the tensors it owns. */
export function swigluDenseFfn(mlp: SwigluWeights): { ffn: DenseFfn; owned: tf.Tensor[] } {
  return { ffn: { kind: 'dense', mlp: (x) => swigluMlp(mlp, x) }, owned: swigluTensors(mlp) };
}

/** The gate of a softmax → top-k router: the k probabilities renormalised (norm_topk_prob), or left raw. */
export function softmaxTopkGate(normTopkProb: boolean): Pick<GateInfo, 'gate' | 'gateDescription'> {
  return normTopkProb
    ? { gate: 'softmax-renormalized', gateDescription: 'Softmax over all experts, top-k kept and renormalised: the k weights sum to 1.' }
    : { gate: 'softmax-raw', gateDescription: 'Softmax probability of each chosen expert, not renormalised: the k weights sum to less than 1.' };
}
