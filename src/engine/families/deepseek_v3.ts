/**
 * @file DeepSeek-V3 (`model_type: deepseek_v3`), as transformers' modeling_deepseek_v3.py: multi-head
 * latent attention (MLA) with interleaved RoPE on the rope slice and YaRN's mscale² in the softmax
 * scale, dense MLPs in the first `first_k_dense_replace` layers, then MoE layers with an unweighted
 * shared expert. Router: sigmoid scores; the choice adds `e_score_correction_bias` and is limited to
 * the best `topk_group` groups; gate weights come from the unbiased scores.
 */
import { tf } from '../backend';
import { ConfigReader } from '../config';
import type { FamilyDef, GateInfo } from '../family';
import type { DecoderLayer } from '../forward';
import type { SwigluWeights } from '../moe';
import { causalAttention, type KvSlot } from '../attention';
import { applyRope, linear, rmsNorm, type Linear, type RopeSpec, type RopeTables } from '../ops';
import { pick, sigmoid, sortByWeight, topk, type FamilyRouter } from '../routing';
import { linearTensors, type WeightReader } from '../weights';
import { readLayerNorms, readSwigluExperts, swigluDenseFfn, swigluMoeFfn } from './standard';

export interface DeepseekV3Config {
  vocabSize: number;
  hiddenSize: number; // D
  intermediateSize: number; // dense layers' MLP width
  moeIntermediateSize: number; // I, per routed expert
  numLayers: number;
  numHeads: number; // H
  qLoraRank: number | null; // null: a plain q_proj
  kvLoraRank: number; // r, the compressed KV width
  qkNopeHeadDim: number;
  qkRopeHeadDim: number; // rd
  vHeadDim: number;
  numExperts: number; // E = n_routed_experts
  numSharedExperts: number;
  topK: number;
  nGroup: number;
  topkGroup: number;
  normTopkProb: boolean;
  routedScalingFactor: number;
  firstKDenseReplace: number;
  ropeInterleave: boolean;
  attentionBias: boolean;
  /** q·kᵀ multiplier: qk_head_dim^-½, times mscale² under YaRN with mscale_all_dim. */
  attentionScale: number;
  rmsNormEps: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  rope: RopeSpec; // on the rd rope dims only
  /** num_nextn_predict_layers: multi-token-prediction layers stored after the decoder's, not run. */
  unusedLayers: number;
}

/** transformers' yarn_get_mscale. */
function yarnMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/** transformers' DeepseekV3Config defaults (DeepSeek-V3 671B sizes); shape-setting sizes are read with them. */
export function parseConfig(json: Record<string, unknown>): DeepseekV3Config {
  const c = new ConfigReader(json, 'deepseek_v3');
  const numExperts = c.int('n_routed_experts', 256);
  const nGroup = c.int('n_group', 8, { max: numExperts });
  if (numExperts % nGroup !== 0 || numExperts / nGroup < 2) {
    throw new Error(`config.json (deepseek_v3): n_routed_experts (${numExperts}) must split into n_group (${nGroup}) groups of at least 2`);
  }
  const qkNope = c.int('qk_nope_head_dim', 128);
  const qkRope = c.int('qk_rope_head_dim', 64);
  const maxPositions = c.int('max_position_embeddings', 4096);
  const rope = c.rope(qkRope, maxPositions, 10000); // on the rd rope dims only; refuses factors that make NaN
  const scaling = json.rope_scaling as Record<string, unknown> | null | undefined;
  let attentionScale = 1 / Math.sqrt(qkNope + qkRope);
  // As DeepseekV3Attention: any rope_scaling with a non-zero mscale_all_dim scales the softmax by mscale².
  if (scaling && typeof scaling === 'object' && scaling.mscale_all_dim) {
    const m = yarnMscale(Number(scaling.factor), Number(scaling.mscale_all_dim));
    attentionScale *= m * m;
    if (!(attentionScale > 0 && Number.isFinite(attentionScale))) {
      c.fail('rope_scaling', `gives an attention scale of ${attentionScale} (mscale_all_dim ${String(scaling.mscale_all_dim)}, factor ${String(scaling.factor)})`);
    }
  }
  return {
    vocabSize: c.int('vocab_size', 129280),
    hiddenSize: c.int('hidden_size', 7168),
    intermediateSize: c.int('intermediate_size', 18432),
    moeIntermediateSize: c.int('moe_intermediate_size', 2048),
    numLayers: c.int('num_hidden_layers', 61),
    numHeads: c.int('num_attention_heads', 128),
    qLoraRank: c.has('q_lora_rank') ? c.int('q_lora_rank') : json.q_lora_rank === null ? null : 1536,
    kvLoraRank: c.int('kv_lora_rank', 512),
    qkNopeHeadDim: qkNope,
    qkRopeHeadDim: qkRope,
    vHeadDim: c.int('v_head_dim', 128),
    numExperts,
    numSharedExperts: c.int('n_shared_experts', 1, { min: 0 }),
    topK: c.int('num_experts_per_tok', 8, { max: numExperts }),
    nGroup,
    topkGroup: c.int('topk_group', 4, { max: nGroup }),
    normTopkProb: c.bool('norm_topk_prob', true),
    routedScalingFactor: c.num('routed_scaling_factor', 2.5),
    firstKDenseReplace: c.int('first_k_dense_replace', 3, { min: 0 }),
    ropeInterleave: c.bool('rope_interleave', true),
    attentionBias: c.bool('attention_bias', false),
    attentionScale,
    rmsNormEps: c.positive('rms_norm_eps', 1e-6),
    maxPositions,
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    rope,
    unusedLayers: c.int('num_nextn_predict_layers', 0, { min: 0 }),
  };
}

// ---------------------------------------------------------------------------------------------
// Router
// ---------------------------------------------------------------------------------------------

export interface DeepseekRouterSpec {
  bias: number[]; // [E] e_score_correction_bias: steers the choice only
  nGroup: number;
  topkGroup: number;
  normTopkProb: boolean;
  routedScalingFactor: number;
}

/**
 * What the router ranks by: s' = s + b in the best `topkGroup` groups (group score = sum of its top-2
 * s'), −∞ for every other expert and for blocked ones (ablations; a group is scored by the experts
 * left open in it). The trace carries this row so margin and near miss are measured on it.
 */
export function selectionQuantity(scores: number[], spec: DeepseekRouterSpec, blocked: ReadonlySet<number>): number[] {
  const E = scores.length;
  const size = E / spec.nGroup;
  const choice = scores.map((s, e) => s + spec.bias[e]); // [E]
  const groupScores = Array.from({ length: spec.nGroup }, (_, g) => {
    const open = choice.slice(g * size, (g + 1) * size).filter((_v, j) => !blocked.has(g * size + j));
    const best = open.sort((x, y) => y - x).slice(0, 2);
    return best.length ? best.reduce((a, b) => a + b, 0) : -Infinity;
  }); // [nGroup]
  const kept = new Set(topk(groupScores, spec.topkGroup));
  return choice.map((v, e) => (kept.has(Math.floor(e / size)) && !blocked.has(e) ? v : -Infinity)); // [E]
}

/**
 * Top-k of the selection quantity, with the experts outside the kept groups at 0.0 rather than −∞,
 * as transformers: with negative biases such an expert can still win. Blocked experts are never chosen.
 */
function chooseFrom(selection: number[], k: number, blocked: ReadonlySet<number>, forced?: number): number[] {
  return pick(
    selection.map((v) => (v === -Infinity ? 0 : v)),
    k,
    blocked,
    forced,
  );
}

export function chooseExperts(scores: number[], spec: DeepseekRouterSpec, k: number, blocked: ReadonlySet<number>): number[] {
  return chooseFrom(selectionQuantity(scores, spec, blocked), k, blocked);
}

/** σ(l) → group-limited choice on σ(l) + b → w = σ(l_i) / (Σ_S σ + 1e-20) (if norm_topk_prob) × routed_scaling_factor. */
export function makeRouter(spec: DeepseekRouterSpec): FamilyRouter {
  return (logits, k, blocked, forced) => {
    const scores = logits.map((row) => row.map(sigmoid)); // [T][E], unbiased
    const selection = scores.map((s) => selectionQuantity(s, spec, blocked)); // [T][E]
    const experts = selection.map((q) => chooseFrom(q, k, blocked, forced)); // [T][k]
    const weights = experts.map((row, t) => {
      const w = row.map((e) => scores[t][e]);
      const denom = spec.normTopkProb ? w.reduce((a, b) => a + b, 0) + 1e-20 : 1;
      return w.map((v) => (v / denom) * spec.routedScalingFactor);
    }); // [T][k]
    return { scores, selection, ...sortByWeight(experts, weights) };
  };
}

// ---------------------------------------------------------------------------------------------
// Multi-head latent attention
// ---------------------------------------------------------------------------------------------

interface MlaWeights {
  q: Linear | null; // [D, H·(nope+rd)] when q_lora_rank is null
  qA: Linear | null; // [D, q_lora_rank]
  qANorm: tf.Tensor1D | null; // [q_lora_rank]
  qB: Linear | null; // [q_lora_rank, H·(nope+rd)]
  kvA: Linear; // [D, r + rd]: compressed KV, then the shared rope key
  kvANorm: tf.Tensor1D; // [r]
  kvB: Linear; // [r, H·(nope+v)]
  o: Linear; // [H·v, D]
}

/** DeepseekV3RMSNorm's own default: the q/kv latent norms are built without rms_norm_eps. */
const LATENT_NORM_EPS = 1e-6;

async function readMla(r: WeightReader, p: string, cfg: DeepseekV3Config): Promise<MlaWeights> {
  const { hiddenSize: D, numHeads: H, qkNopeHeadDim: nope, qkRopeHeadDim: rd, vHeadDim: vd, kvLoraRank: rank } = cfg;
  const qr = cfg.qLoraRank;
  const bias = cfg.attentionBias;
  return {
    q: qr === null ? await r.linear(`${p}.q_proj`, H * (nope + rd), D) : null,
    qA: qr === null ? null : await r.linear(`${p}.q_a_proj`, qr, D, bias),
    qANorm: qr === null ? null : await r.vector(`${p}.q_a_layernorm.weight`, qr),
    qB: qr === null ? null : await r.linear(`${p}.q_b_proj`, H * (nope + rd), qr),
    kvA: await r.linear(`${p}.kv_a_proj_with_mqa`, rank + rd, D, bias),
    kvANorm: await r.vector(`${p}.kv_a_layernorm.weight`, rank),
    kvB: await r.linear(`${p}.kv_b_proj`, H * (nope + vd), rank),
    o: await r.linear(`${p}.o_proj`, D, H * vd, bias),
  };
}

function mlaTensors(w: MlaWeights): tf.Tensor[] {
  const vectors = [w.qANorm, w.kvANorm].filter((t): t is tf.Tensor1D => t !== null);
  return [w.q, w.qA, w.qB, w.kvA, w.kvB, w.o].flatMap(linearTensors).concat(vectors);
}

/** x [T, D] → [T, D]: queries and keys are [nope | rope] per head; one rope key is shared by all heads. */
function mlaAttention(w: MlaWeights, cfg: DeepseekV3Config) {
  const { numHeads: H, qkNopeHeadDim: nope, qkRopeHeadDim: rd, vHeadDim: vd, kvLoraRank: rank } = cfg;
  return (x: tf.Tensor2D, rope: RopeTables, kvCache?: KvSlot): tf.Tensor2D => {
    const T = x.shape[0];
    const qFlat = w.q ? linear(x, w.q) : linear(rmsNorm(linear(x, w.qA!), w.qANorm!, LATENT_NORM_EPS), w.qB!); // [T, H·(nope+rd)]
    const [qPass, qRot] = tf.split(tf.reshape(qFlat, [T, H, nope + rd]), [nope, rd], 2) as tf.Tensor3D[]; // [T, H, nope], [T, H, rd]
    const [latent, kRot] = tf.split(linear(x, w.kvA), [rank, rd], 1) as tf.Tensor2D[]; // [T, r], [T, rd]
    const kv = tf.reshape(linear(rmsNorm(latent, w.kvANorm, LATENT_NORM_EPS), w.kvB), [T, H, nope + vd]); // [T, H, nope+v]
    const [kPass, v] = tf.split(kv, [nope, vd], 2) as tf.Tensor3D[]; // [T, H, nope], [T, H, v]
    const qRoped = applyRope(qRot, rope, cfg.ropeInterleave); // [T, H, rd]
    const kRoped = applyRope(tf.reshape(kRot, [T, 1, rd]), rope, cfg.ropeInterleave); // [T, 1, rd]
    const q = tf.concat([qPass, qRoped], 2) as tf.Tensor3D; // [T, H, nope+rd]
    const k = tf.concat([kPass, tf.broadcastTo(kRoped, [T, H, rd])], 2) as tf.Tensor3D; // [T, H, nope+rd]
    const out = causalAttention(q, k, v, { scale: cfg.attentionScale }, kvCache); // [T, H·v]
    return linear(out, w.o); // [T, D]
  };
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** Layer i: MLA attention, then a dense MLP (the first first_k_dense_replace layers) or the MoE block. */
export async function readLayer(r: WeightReader, cfg: DeepseekV3Config, i: number): Promise<DecoderLayer> {
  const { hiddenSize: D, numExperts: E, moeIntermediateSize: I } = cfg;
  const mlp = (p: string, width: number): Promise<SwigluWeights> => r.swiglu(`${p}.gate_proj`, `${p}.up_proj`, `${p}.down_proj`, D, width);
  const p = `model.layers.${i}`;
  const attn = await readMla(r, `${p}.self_attn`, cfg);
  const common = {
    layer: i,
    ...(await readLayerNorms(r, p, D)),
    attention: mlaAttention(attn, cfg),
  };
  if (i < cfg.firstKDenseReplace) {
    const dense = swigluDenseFfn(await mlp(`${p}.mlp`, cfg.intermediateSize));
    return { ...common, ffn: dense.ffn, owned: [...mlaTensors(attn), ...dense.owned] };
  }
  const router = await r.router(`${p}.mlp.gate`, E, D, { modelType: 'deepseek_v3', key: 'n_routed_experts' }); // [D, E]
  const bias = Array.from(await r.read(`${p}.mlp.gate.e_score_correction_bias`, [E])); // [E]
  const experts = readSwigluExperts(r, `${p}.mlp.experts`, E, D, I);
  const shared = cfg.numSharedExperts > 0 ? await mlp(`${p}.mlp.shared_experts`, I * cfg.numSharedExperts) : null;
  const route = makeRouter({ bias, nGroup: cfg.nGroup, topkGroup: cfg.topkGroup, normTopkProb: cfg.normTopkProb, routedScalingFactor: cfg.routedScalingFactor });
  const moe = swigluMoeFfn({ router, route, experts, topK: cfg.topK, shared: shared && { mlp: shared, gate: null } }); // shared weight 1
  return { ...common, ffn: moe.ffn, owned: [...mlaTensors(attn), ...moe.owned] };
}

function gate(cfg: DeepseekV3Config): GateInfo {
  return {
    gate: 'sigmoid-scaled',
    gateDescription:
      `Sigmoid score of each chosen expert${cfg.normTopkProb ? ', renormalised over the k' : ''}, times ${cfg.routedScalingFactor}; ` +
      'the choice itself adds a per-expert bias and keeps only the best expert groups' +
      (cfg.numSharedExperts > 0 ? '; a shared expert is always added with weight 1.' : '.'),
    hasSharedExpert: cfg.numSharedExperts > 0,
  };
}

export const family: FamilyDef<DeepseekV3Config> = { modelType: 'deepseek_v3', parseConfig, readLayer, gate };
