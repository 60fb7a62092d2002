/**
 * @file The four real checkpoints the issue names, as they ship: config.json (every key of the
 * released file), tensor names in state-dict order (the order transformers' save_pretrained shards
 * them in), shapes, dtypes, and the shard rule that produced the released files. Values that could
 * not be checked against the released files are listed in each spec's `unconfirmed`.
 */

export type RealDtype = 'BF16' | 'F32' | 'U8';

/** What a tensor's values look like: weights ~N(0, 0.02), norm weights ~1, MXFP4 codes and scales. */
export type Fill = 'normal' | 'ones' | 'mxfp4-blocks' | 'mxfp4-scales';

export interface TensorDef {
  name: string;
  dtype: RealDtype;
  shape: number[];
  fill: Fill;
}

export type Sharding =
  /** huggingface_hub's split_state_dict_into_shards: greedy in state-dict order, model-0000i-of-0000n (1-based). */
  | { kind: 'hf'; maxShardBytes: number }
  /** convert_gpt_oss_weights_to_hf.py's save_sharded_model: greedy over the original checkpoint's sorted keys, model-0000i-of-{n−1} (0-based). */
  | { kind: 'gpt-oss'; maxShardBytes: number };

export interface ModelSpec {
  name: string;
  /** The Hugging Face repository this mimics. */
  repo: string;
  config: Record<string, unknown>;
  tensors: TensorDef[];
  sharding: Sharding;
  /** Facts taken from memory or derived, not checked against the released files. */
  unconfirmed: string[];
}

const bf16 = (name: string, shape: number[], fill: Fill = 'normal'): TensorDef => ({ name, dtype: 'BF16', shape, fill });

/** q/k/v/o projections (+ biases where the family has them), as nn.Linear registers them. */
function attention(p: string, D: number, H: number, KV: number, hd: number, qkvBias: boolean, oBias: boolean): TensorDef[] {
  const lin = (n: string, out: number, inp: number, bias: boolean): TensorDef[] => [bf16(`${p}.${n}.weight`, [out, inp]), ...(bias ? [bf16(`${p}.${n}.bias`, [out])] : [])];
  return [...lin('q_proj', H * hd, D, qkvBias), ...lin('k_proj', KV * hd, D, qkvBias), ...lin('v_proj', KV * hd, D, qkvBias), ...lin('o_proj', D, H * hd, oBias)];
}

function swiglu(p: string, D: number, I: number): TensorDef[] {
  return [bf16(`${p}.gate_proj.weight`, [I, D]), bf16(`${p}.up_proj.weight`, [I, D]), bf16(`${p}.down_proj.weight`, [D, I])];
}

function norms(p: string, D: number): TensorDef[] {
  return [bf16(`${p}.input_layernorm.weight`, [D], 'ones'), bf16(`${p}.post_attention_layernorm.weight`, [D], 'ones')];
}

function layers(n: number, layer: (p: string) => TensorDef[]): TensorDef[] {
  return Array.from({ length: n }, (_, i) => layer(`model.layers.${i}`)).flat();
}

// ---------------------------------------------------------------------------------------------
// granite-3.1-1b-a400m (GraniteMoeForCausalLM): 1.33 B parameters, one 2.67 GB model.safetensors
// ---------------------------------------------------------------------------------------------

const graniteConfig = {
  architectures: ['GraniteMoeForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.1,
  attention_multiplier: 0.015625,
  bos_token_id: 0,
  embedding_multiplier: 12.0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 512,
  logits_scaling: 6.0,
  max_position_embeddings: 131072,
  model_type: 'granitemoe',
  num_attention_heads: 16,
  num_experts_per_tok: 8,
  num_hidden_layers: 24,
  num_key_value_heads: 8,
  num_local_experts: 32,
  output_router_logits: false,
  pad_token_id: 0,
  residual_multiplier: 0.22,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 10000000.0,
  router_aux_loss_coef: 0.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.47.0',
  use_cache: true,
  vocab_size: 49155,
};

function granite(): ModelSpec {
  const D = 1024;
  const I = 512;
  const E = 32;
  return {
    name: 'granite-3.1-1b-a400m',
    repo: 'ibm-granite/granite-3.1-1b-a400m-instruct',
    config: graniteConfig,
    tensors: [
      bf16('model.embed_tokens.weight', [49155, D]),
      ...layers(24, (p) => [
        ...attention(`${p}.self_attn`, D, 16, 8, 64, false, false),
        bf16(`${p}.block_sparse_moe.input_linear.weight`, [E, 2 * I, D]),
        bf16(`${p}.block_sparse_moe.output_linear.weight`, [E, D, I]),
        bf16(`${p}.block_sparse_moe.router.layer.weight`, [E, D]),
        ...norms(p, D),
      ]),
      bf16('model.norm.weight', [D], 'ones'), // tied: no lm_head.weight
    ],
    // One 2.67 GB file in the instruct repo ("Added bf16 tensors"); the base repo has 2 shards.
    sharding: { kind: 'hf', maxShardBytes: 5e9 },
    unconfirmed: [
      'config values other than the shapes (max_position_embeddings 131072, rope_theta 1e7, attention_dropout 0.1, transformers_version) are from memory',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// OLMoE-1B-7B-0924 (OlmoeForCausalLM): 6.92 B parameters, 13.8 GB
// ---------------------------------------------------------------------------------------------

function olmoe(): ModelSpec {
  const D = 2048;
  const I = 1024;
  const E = 64;
  const V = 50304;
  return {
    name: 'OLMoE-1B-7B',
    repo: 'allenai/OLMoE-1B-7B-0924',
    config: {
      architectures: ['OlmoeForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      clip_qkv: null,
      eos_token_id: 50279,
      hidden_act: 'silu',
      hidden_size: D,
      initializer_range: 0.02,
      intermediate_size: I,
      max_position_embeddings: 4096,
      model_type: 'olmoe',
      norm_topk_prob: false,
      num_attention_heads: 16,
      num_experts: E,
      num_experts_per_tok: 8,
      num_hidden_layers: 16,
      num_key_value_heads: 16,
      output_router_logits: false,
      pad_token_id: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      router_aux_loss_coef: 0.01,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.43.0.dev0',
      use_cache: true,
      vocab_size: V,
    },
    tensors: [
      bf16('model.embed_tokens.weight', [V, D]),
      ...layers(16, (p) => [
        ...attention(`${p}.self_attn`, D, 16, 16, 128, false, false),
        bf16(`${p}.self_attn.q_norm.weight`, [D], 'ones'),
        bf16(`${p}.self_attn.k_norm.weight`, [D], 'ones'),
        bf16(`${p}.mlp.gate.weight`, [E, D]),
        ...Array.from({ length: E }, (_, e) => swiglu(`${p}.mlp.experts.${e}`, D, I)).flat(),
        ...norms(p, D),
      ]),
      bf16('model.norm.weight', [D], 'ones'),
      bf16('lm_head.weight', [V, D]),
    ],
    sharding: { kind: 'hf', maxShardBytes: 5e9 },
    unconfirmed: [
      'the shard split: save_pretrained\'s default 5 GB greedy split is assumed (3 shards); the released index was not seen',
      'eos_token_id, pad_token_id, rms_norm_eps, rope_theta, router_aux_loss_coef, transformers_version are from memory',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Qwen1.5-MoE-A2.7B (Qwen2MoeForCausalLM): 14.3 B parameters, 28.6 GB in 8 shards
// ---------------------------------------------------------------------------------------------

function qwen15moe(): ModelSpec {
  const D = 2048;
  const E = 60;
  const V = 151936;
  return {
    name: 'Qwen1.5-MoE-A2.7B',
    repo: 'Qwen/Qwen1.5-MoE-A2.7B',
    config: {
      architectures: ['Qwen2MoeForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      decoder_sparse_step: 1,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: D,
      initializer_range: 0.02,
      intermediate_size: 5632,
      max_position_embeddings: 8192,
      max_window_layers: 21,
      model_type: 'qwen2_moe',
      moe_intermediate_size: 1408,
      norm_topk_prob: false,
      num_attention_heads: 16,
      num_experts: E,
      num_experts_per_tok: 4,
      num_hidden_layers: 24,
      num_key_value_heads: 16,
      output_router_logits: false,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      router_aux_loss_coef: 0.001,
      shared_expert_intermediate_size: 5632,
      sliding_window: 32768,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.36.0.dev0',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: V,
    },
    tensors: [
      bf16('model.embed_tokens.weight', [V, D]),
      ...layers(24, (p) => [
        ...attention(`${p}.self_attn`, D, 16, 16, 128, true, false),
        bf16(`${p}.mlp.gate.weight`, [E, D]),
        ...Array.from({ length: E }, (_, e) => swiglu(`${p}.mlp.experts.${e}`, D, 1408)).flat(),
        ...swiglu(`${p}.mlp.shared_expert`, D, 5632),
        bf16(`${p}.mlp.shared_expert_gate.weight`, [1, D]),
        ...norms(p, D),
      ]),
      bf16('model.norm.weight', [D], 'ones'),
      bf16('lm_head.weight', [V, D]),
    ],
    // The release: model-00001…00007 of 00008 at ~4 GB each and a 668 MB last shard.
    sharding: { kind: 'hf', maxShardBytes: 4e9 },
    unconfirmed: [
      'which tensor sits in which shard: the 4 GB greedy split in state-dict order gives the released 8 files at the sizes the Hub lists (4, 4, 3.99, 4, 3.99, 4, 3.99 GB, 668 MB), but the index itself was not compared',
      'max_window_layers, router_aux_loss_coef, transformers_version are from memory',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// gpt-oss-20b (GptOssForCausalLM, MXFP4 experts): 13.8 GB in model-00000…00002-of-00002
// ---------------------------------------------------------------------------------------------

/** gpt-oss's original (pre-conversion) name of each converted tensor: the shard split runs over these, sorted. */
function gptOssOriginalName(name: string): string {
  return name
    .replace(/^model\.layers\.(\d+)\.self_attn\.[qkv]_proj\.(weight|bias)$/, 'block.$1.attn.qkv.$2')
    .replace(/^model\.layers\.(\d+)\.self_attn\.o_proj\./, 'block.$1.attn.out.')
    .replace(/^model\.layers\.(\d+)\.self_attn\.sinks$/, 'block.$1.attn.sinks')
    .replace(/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'block.$1.attn.norm.scale')
    .replace(/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'block.$1.mlp.norm.scale')
    .replace(/^model\.layers\.(\d+)\.mlp\.router\./, 'block.$1.mlp.gate.')
    .replace(/^model\.layers\.(\d+)\.mlp\.experts\.gate_up_proj_(blocks|scales)$/, 'block.$1.mlp.mlp1_weight.$2')
    .replace(/^model\.layers\.(\d+)\.mlp\.experts\.gate_up_proj_bias$/, 'block.$1.mlp.mlp1_bias')
    .replace(/^model\.layers\.(\d+)\.mlp\.experts\.down_proj_(blocks|scales)$/, 'block.$1.mlp.mlp2_weight.$2')
    .replace(/^model\.layers\.(\d+)\.mlp\.experts\.down_proj_bias$/, 'block.$1.mlp.mlp2_bias')
    .replace(/^model\.embed_tokens\.weight$/, 'embedding.weight')
    .replace(/^model\.norm\.weight$/, 'norm.scale')
    .replace(/^lm_head\.weight$/, 'unembedding.weight');
}

function gptOss20b(): ModelSpec {
  const D = 2880;
  const E = 32;
  const I = 2880;
  const V = 201088;
  const H = 64;
  const KV = 8;
  const hd = 64;
  const u8 = (name: string, shape: number[], fill: Fill): TensorDef => ({ name, dtype: 'U8', shape, fill });
  const tensors = [
    bf16('model.embed_tokens.weight', [V, D]),
    ...layers(24, (p) => [
      ...attention(`${p}.self_attn`, D, H, KV, hd, true, true),
      bf16(`${p}.self_attn.sinks`, [H]),
      bf16(`${p}.mlp.router.weight`, [E, D]),
      bf16(`${p}.mlp.router.bias`, [E]),
      u8(`${p}.mlp.experts.gate_up_proj_blocks`, [E, 2 * I, D / 32, 16], 'mxfp4-blocks'),
      u8(`${p}.mlp.experts.gate_up_proj_scales`, [E, 2 * I, D / 32], 'mxfp4-scales'),
      bf16(`${p}.mlp.experts.gate_up_proj_bias`, [E, 2 * I]),
      u8(`${p}.mlp.experts.down_proj_blocks`, [E, D, I / 32, 16], 'mxfp4-blocks'),
      u8(`${p}.mlp.experts.down_proj_scales`, [E, D, I / 32], 'mxfp4-scales'),
      bf16(`${p}.mlp.experts.down_proj_bias`, [E, D]),
      ...norms(p, D),
    ]),
    bf16('model.norm.weight', [D], 'ones'),
    bf16('lm_head.weight', [V, D]),
  ];
  // The converter walks the original checkpoint's keys sorted (block.0, block.1, block.10, …); q, k, v come from one qkv.
  const order = (t: TensorDef): string => gptOssOriginalName(t.name);
  tensors.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  return {
    name: 'gpt-oss-20b',
    repo: 'openai/gpt-oss-20b',
    config: {
      architectures: ['GptOssForCausalLM'],
      attention_bias: true,
      attention_dropout: 0.0,
      eos_token_id: 200002,
      experts_per_token: 4,
      head_dim: hd,
      hidden_act: 'silu',
      hidden_size: D,
      initial_context_length: 4096,
      initializer_range: 0.02,
      intermediate_size: I,
      layer_types: Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention')),
      max_position_embeddings: 131072,
      model_type: 'gpt_oss',
      num_attention_heads: H,
      num_experts_per_tok: 4,
      num_hidden_layers: 24,
      num_key_value_heads: KV,
      num_local_experts: E,
      output_router_logits: false,
      pad_token_id: 199999,
      quantization_config: {
        modules_to_not_convert: ['model.layers.*.self_attn', 'model.layers.*.mlp.router', 'model.embed_tokens', 'lm_head'],
        quant_method: 'mxfp4',
      },
      rms_norm_eps: 1e-5,
      rope_scaling: { beta_fast: 32.0, beta_slow: 1.0, factor: 32.0, original_max_position_embeddings: 4096, rope_type: 'yarn', truncate: false },
      rope_theta: 150000,
      router_aux_loss_coef: 0.9,
      sliding_window: 128,
      swiglu_limit: 7.0,
      tie_word_embeddings: false,
      transformers_version: '4.55.0.dev0',
      use_cache: true,
      vocab_size: V,
    },
    tensors,
    sharding: { kind: 'gpt-oss', maxShardBytes: 4.8e9 },
    unconfirmed: [
      'dtypes of the norm weights and sinks (BF16 here; the converter keeps norms in the original checkpoint\'s dtype)',
      'the shard split reproduces save_sharded_model (4.8 GB greedy over sorted original keys); the released index was not compared',
    ],
  };
}

/**
 * The first `n` decoder layers only (num_hidden_layers and layer_types cut to match; embeddings, final
 * norm and LM head kept): every tensor keeps its real shape, so a quick end-to-end check costs a
 * fraction of the disk. The shard rule is applied to what is left.
 */
export function firstLayers(spec: ModelSpec, n: number): ModelSpec {
  const total = spec.config.num_hidden_layers as number;
  if (!Number.isInteger(n) || n < 1 || n > total) {
    throw new Error(`--layers must be 1…${total}`);
  }
  const layerOf = (name: string): number | null => {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    return m ? Number(m[1]) : null;
  };
  const config: Record<string, unknown> = { ...spec.config, num_hidden_layers: n };
  if (Array.isArray(spec.config.layer_types)) {
    config.layer_types = spec.config.layer_types.slice(0, n);
  }
  return {
    ...spec,
    name: `${spec.name} (first ${n} of ${total} layers)`,
    config,
    tensors: spec.tensors.filter((t) => (layerOf(t.name) ?? -1) < n),
  };
}

export const MODELS: Readonly<Record<string, () => ModelSpec>> = {
  'granite-3.1-1b-a400m': granite,
  'OLMoE-1B-7B': olmoe,
  'Qwen1.5-MoE-A2.7B': qwen15moe,
  'gpt-oss-20b': gptOss20b,
};
