/**
 * @file A GGUF file's metadata → the config.json its family's `parseConfig` reads, so a GGUF model
 * gets exactly the defaults, checks and routing of the same model as safetensors. llama.cpp's
 * `{arch}.*` keys (src/llama-arch.cpp) map to the Hugging Face keys convert_hf_to_gguf.py read them
 * from; a width a file leaves out is taken from the tensor shapes (llama.cpp's OLMoE files carry only
 * `feed_forward_length`), and flags llama.cpp hard-codes per architecture get its defaults.
 */
import { metaBool, metaFloat, metaInt, metaString, metaStrings, type GgufMetadata } from '../checkpoint/gguf/metadata';

/** Row-major tensor shapes by GGUF name (the reader's TensorInfo.shape). */
export type ShapeOf = (name: string) => readonly number[] | undefined;

/** llama.cpp architecture → our model_type. `llama` is Mixtral only when it has experts. */
export const GGUF_ARCHITECTURES: Readonly<Record<string, string>> = Object.freeze({
  llama: 'mixtral',
  qwen2moe: 'qwen2_moe',
  qwen3moe: 'qwen3_moe',
  olmoe: 'olmoe',
  granitemoe: 'granitemoe',
  deepseek2: 'deepseek_v3',
  'gpt-oss': 'gpt_oss',
});

/** Architectures whose converter permutes q/k rows for llama.cpp's pairwise ("normal") RoPE (LlamaModel.permute). */
export const PERMUTED_QK_ARCHES: ReadonlySet<string> = new Set(['llama', 'granitemoe']);

export class GgufModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufModelError';
  }
}

/** `general.architecture`, refused by name when no family reads it. */
export function ggufArchitecture(meta: GgufMetadata, file: string): string {
  const arch = metaString(meta, 'general.architecture');
  if (arch === undefined) {
    throw new GgufModelError(`${file}: GGUF metadata has no "general.architecture"; it is not a model file llama.cpp would load either`);
  }
  if (!(arch in GGUF_ARCHITECTURES)) {
    throw new GgufModelError(
      `${file}: GGUF architecture '${arch}' is not a Mixture-of-Experts family MoE Lens reads (supported: ${Object.keys(GGUF_ARCHITECTURES).sort().join(', ')})`,
    );
  }
  return arch;
}

/** Layers present as blk.N.* tensors. */
function blockCountFromTensors(names: readonly string[]): number {
  let n = 0;
  for (const name of names) {
    const m = /^blk\.(\d+)\./.exec(name);
    if (m) {
      n = Math.max(n, Number(m[1]) + 1);
    }
  }
  return n;
}

/** Rope scaling as transformers writes it, from `{arch}.rope.scaling.*`; undefined when none. */
function ropeScaling(meta: GgufMetadata, arch: string): Record<string, unknown> | null {
  const type = metaString(meta, `${arch}.rope.scaling.type`);
  const factor = metaFloat(meta, `${arch}.rope.scaling.factor`);
  if (type === undefined || type === 'none' || factor === undefined) {
    return null;
  }
  const original = metaInt(meta, `${arch}.rope.scaling.original_context_length`);
  if (type === 'linear') {
    return { rope_type: 'linear', factor };
  }
  if (type === 'yarn') {
    const out: Record<string, unknown> = { rope_type: 'yarn', factor };
    if (original !== undefined) {
      out.original_max_position_embeddings = original;
    }
    const fast = metaFloat(meta, `${arch}.rope.scaling.yarn_beta_fast`);
    const slow = metaFloat(meta, `${arch}.rope.scaling.yarn_beta_slow`);
    out.beta_fast = fast ?? 32;
    out.beta_slow = slow ?? 1;
    // convert_hf_to_gguf writes 0.1·mscale_all_dim as yarn_log_multiplier (DeepSeek); transformers needs mscale and mscale_all_dim.
    if (arch === 'gpt-oss') {
      out.truncate = false; // gpt-oss's config.json: YaRN's correction range not rounded (llama.cpp rounds it)
    }
    const logMul = metaFloat(meta, `${arch}.rope.scaling.yarn_log_multiplier`);
    if (logMul !== undefined) {
      out.mscale = logMul / 0.1;
      out.mscale_all_dim = logMul / 0.1;
    }
    return out;
  }
  throw new GgufModelError(`GGUF metadata "${arch}.rope.scaling.type" is '${type}'; MoE Lens reads linear and yarn rope scaling`);
}

/** Sets `key` when the value is known (undefined leaves the family's default). */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) {
    out[key] = value;
  }
}

/**
 * The config.json object for a GGUF model: `model_type` from the architecture, every size the
 * family needs from `{arch}.*` keys or tensor shapes, and llama.cpp's per-architecture defaults.
 */
export function ggufToHfConfig(meta: GgufMetadata, names: readonly string[], shapeOf: ShapeOf, file: string): Record<string, unknown> {
  const arch = ggufArchitecture(meta, file);
  const k = (key: string): string => `${arch}.${key}`;
  const int = (key: string): number | undefined => metaInt(meta, k(key));
  const embd = shapeOf('token_embd.weight');
  if (!embd || embd.length !== 2) {
    throw new GgufModelError(`${file}: no 2-D 'token_embd.weight' tensor; a GGUF language model has one`);
  }
  const expertCount = int('expert_count') ?? 0;
  if (arch === 'llama' && expertCount === 0) {
    throw new GgufModelError(`${file}: a 'llama' GGUF without experts (llama.expert_count is ${expertCount}) is a dense model; MoE Lens reads Mixture-of-Experts models`);
  }
  const modelType = GGUF_ARCHITECTURES[arch];
  const hidden = int('embedding_length') ?? embd[1];
  const heads = int('attention.head_count');
  const layers = int('block_count') ?? blockCountFromTensors(names);
  const expertWidth = int('expert_feed_forward_length') ?? shapeOf('blk.0.ffn_gate_exps.weight')?.[1] ?? firstExpertsWidth(names, shapeOf);
  const vocab = metaStrings(meta, 'tokenizer.ggml.tokens')?.length;
  const out: Record<string, unknown> = {
    model_type: modelType,
    architectures: [`${arch} (GGUF)`],
    vocab_size: int('vocab_size') ?? embd[0] ?? vocab,
    hidden_size: hidden,
    num_hidden_layers: layers,
    tie_word_embeddings: !names.includes('output.weight'),
  };
  put(out, '_name_or_path', metaString(meta, 'general.name'));
  put(out, 'num_attention_heads', heads);
  put(out, 'num_key_value_heads', int('attention.head_count_kv'));
  put(out, 'max_position_embeddings', int('context_length'));
  put(out, 'rms_norm_eps', metaFloat(meta, k('attention.layer_norm_rms_epsilon')));
  put(out, 'rope_theta', metaFloat(meta, k('rope.freq_base')));
  put(out, 'num_experts_per_tok', int('expert_used_count'));
  const scaling = ropeScaling(meta, arch);
  if (scaling) {
    out.rope_scaling = scaling;
  } else if (arch !== 'gpt-oss') {
    out.rope_scaling = null; // gpt-oss's family default is its YaRN; the others' none
  }
  const keyLength = int('attention.key_length');
  const headDim = keyLength ?? (heads ? (shapeOf('blk.0.attn_q.weight')?.[0] ?? hidden) / heads : undefined);
  const renorm = metaBool(meta, k('expert_weights_norm'));
  const denseWidth = int('feed_forward_length');
  switch (arch) {
    case 'llama':
      out.num_local_experts = expertCount;
      // llama.cpp's Mixtral files: feed_forward_length is the expert width.
      out.intermediate_size = expertWidth ?? denseWidth;
      put(out, 'head_dim', headDim);
      put(out, 'sliding_window', int('attention.sliding_window'));
      break;
    case 'qwen2moe': {
      out.num_experts = expertCount;
      out.moe_intermediate_size = expertWidth;
      out.shared_expert_intermediate_size = int('expert_shared_feed_forward_length') ?? shapeOf('blk.0.ffn_gate_shexp.weight')?.[0];
      put(out, 'intermediate_size', denseWidth);
      out.norm_topk_prob = renorm ?? false; // llama.cpp: qwen2moe does not renormalise
      out.qkv_bias = names.includes('blk.0.attn_q.bias');
      out.use_sliding_window = false;
      out.mlp_only_layers = denseLayers(names, layers);
      break;
    }
    case 'qwen3moe':
      out.num_experts = expertCount;
      out.moe_intermediate_size = expertWidth;
      put(out, 'intermediate_size', denseWidth);
      put(out, 'head_dim', headDim);
      out.norm_topk_prob = renorm ?? true; // llama.cpp: qwen3moe renormalises
      out.attention_bias = names.includes('blk.0.attn_q.bias');
      out.use_sliding_window = false;
      out.mlp_only_layers = denseLayers(names, layers);
      break;
    case 'olmoe':
      out.num_experts = expertCount;
      // llama.cpp's OLMoE files carry only feed_forward_length, the expert width.
      out.intermediate_size = expertWidth ?? denseWidth;
      out.norm_topk_prob = renorm ?? false; // llama.cpp: olmoe does not renormalise
      out.attention_bias = names.includes('blk.0.attn_q.bias');
      out.clip_qkv = metaFloat(meta, k('attention.clamp_kqv')) ?? null;
      break;
    case 'granitemoe':
      out.num_local_experts = expertCount;
      out.intermediate_size = expertWidth ?? denseWidth;
      out.attention_bias = names.includes('blk.0.attn_q.bias');
      put(out, 'attention_multiplier', metaFloat(meta, k('attention.scale')));
      put(out, 'embedding_multiplier', metaFloat(meta, k('embedding_scale')));
      put(out, 'residual_multiplier', metaFloat(meta, k('residual_scale')));
      put(out, 'logits_scaling', metaFloat(meta, k('logit_scale')));
      break;
    case 'deepseek2':
      Object.assign(out, deepseekConfig(meta, names, shapeOf, file, { expertCount, expertWidth, denseWidth, renorm }));
      break;
    case 'gpt-oss': {
      out.num_local_experts = expertCount;
      out.intermediate_size = expertWidth;
      put(out, 'head_dim', headDim);
      out.attention_bias = true;
      const window = int('attention.sliding_window');
      put(out, 'sliding_window', window);
      // llama.cpp's gpt-oss: sliding-window attention on even layers (swa pattern 2), full on odd.
      out.layer_types = Array.from({ length: layers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
      break;
    }
  }
  return out;
}

/** Widths of per-expert Mixtral tensors in old llama.cpp files (blk.0.ffn_gate.0.weight). */
function firstExpertsWidth(names: readonly string[], shapeOf: ShapeOf): number | undefined {
  return names.includes('blk.0.ffn_gate.0.weight') ? shapeOf('blk.0.ffn_gate.0.weight')?.[0] : undefined;
}

/** Layers stored with a dense FFN (ffn_gate, no router): Qwen's mlp_only_layers. */
function denseLayers(names: readonly string[], layers: number): number[] {
  const set = new Set(names);
  return Array.from({ length: layers }, (_, i) => i).filter((i) => !set.has(`blk.${i}.ffn_gate_inp.weight`) && set.has(`blk.${i}.ffn_gate.weight`));
}

/** DeepSeek-V3's MLA and grouped routing keys (llama.cpp's deepseek2). */
function deepseekConfig(
  meta: GgufMetadata,
  names: readonly string[],
  shapeOf: ShapeOf,
  file: string,
  w: { expertCount: number; expertWidth: number | undefined; denseWidth: number | undefined; renorm: boolean | undefined },
): Record<string, unknown> {
  const int = (key: string): number | undefined => metaInt(meta, `deepseek2.${key}`);
  const gating = int('expert_gating_func');
  if (gating !== undefined && gating !== 2) {
    throw new GgufModelError(
      `${file}: this deepseek2 GGUF routes with ${gating === 1 ? 'softmax' : `gating function ${gating}`} (DeepSeek-V2); MoE Lens reads the DeepSeek-V3 layout (sigmoid routing, expert_gating_func 2)`,
    );
  }
  const ropeDim = int('rope.dimension_count');
  // The MLA-absorbed converter (2025) writes key/value_length for the latent and *_mla for the heads.
  const qkHead = int('attention.key_length_mla') ?? int('attention.key_length');
  const vHead = int('attention.value_length_mla') ?? int('attention.value_length');
  const qLora = int('attention.q_lora_rank');
  const out: Record<string, unknown> = {
    n_routed_experts: w.expertCount,
    moe_intermediate_size: w.expertWidth,
    n_shared_experts: int('expert_shared_count') ?? 0,
    first_k_dense_replace: int('leading_dense_block_count') ?? 0,
    routed_scaling_factor: metaFloat(meta, 'deepseek2.expert_weights_scale') ?? 1,
    norm_topk_prob: w.renorm ?? false, // llama.cpp's default when the key is absent
    n_group: int('expert_group_count') ?? 1,
    topk_group: int('expert_group_used_count') ?? 1,
    q_lora_rank: qLora === undefined || qLora === 0 ? null : qLora,
    kv_lora_rank: int('attention.kv_lora_rank') ?? shapeOf('blk.0.attn_kv_a_norm.weight')?.[0],
    rope_interleave: true, // llama.cpp's pairwise RoPE on unpermuted DeepSeek weights
    num_nextn_predict_layers: int('nextn_predict_layers') ?? 0,
  };
  put(out, 'intermediate_size', w.denseWidth);
  put(out, 'qk_rope_head_dim', ropeDim);
  if (qkHead !== undefined && ropeDim !== undefined) {
    out.qk_nope_head_dim = qkHead - ropeDim;
  }
  put(out, 'v_head_dim', vHead);
  if (!names.includes('blk.0.attn_kv_b.weight') && !names.includes('blk.0.attn_k_b.weight')) {
    throw new GgufModelError(`${file}: deepseek2 GGUF has neither attn_kv_b nor attn_k_b/attn_v_b tensors`);
  }
  return out;
}
