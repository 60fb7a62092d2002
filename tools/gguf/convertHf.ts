/**
 * @file Hugging Face safetensors folder → GGUF, the way llama.cpp's convert_hf_to_gguf.py writes our
 * families (metadata keys, tensor names, stacked experts, the q/k row permutation of `llama` and
 * `granitemoe`, GraniteMoE's split input_linear, gpt-oss's split and transposed experts, DeepSeek's
 * exp_probs_b) plus the tokenizer (tokenizerToGguf.ts). For tests and tools: the reader's mapping is
 * checked against it, and llama.cpp itself (node-llama-cpp) checks both.
 *
 *   npx tsx tools/gguf/convertHf.ts MODEL_DIR OUT.gguf [--type F32|F16|BF16|Q8_0|Q4_0]
 */
import * as path from 'node:path';
import { openCheckpoint, type Checkpoint } from '../../src/engine/checkpoint/checkpoint';
import { readModelConfig } from '../../src/engine/checkpoint/modelFolder';
import type { GgmlTypeName } from '../../src/engine/checkpoint/gguf/types';
import { transpose } from '../../src/engine/gguf/tensorMap';
import { byteVocabMetadata, tokenizerMetadata } from './tokenizerToGguf';
import { gv, writeGguf, type GgufTensorSpec, type MetaValue } from './writer';

export const ARCH_OF: Readonly<Record<string, string>> = {
  mixtral: 'llama',
  qwen2_moe: 'qwen2moe',
  qwen3_moe: 'qwen3moe',
  olmoe: 'olmoe',
  granitemoe: 'granitemoe',
  deepseek_v3: 'deepseek2',
  gpt_oss: 'gpt-oss',
};

export interface ConvertOptions {
  /** Type of 2-D weight matrices (norms, biases, routers' 1-D tensors stay F32, as llama.cpp keeps them). */
  type?: GgmlTypeName;
  /** Type of the routed experts only (overrides `type` for them): one quantisation per test. */
  expertType?: GgmlTypeName;
  /** Extra or replacing metadata. */
  meta?: Record<string, MetaValue>;
  /** Writes output.weight even for tied embeddings (llama.cpp's qwen2moe requires it). */
  untie?: boolean;
  /** Rewrites any tensor before it is written (tests: random blocks of a type, or their values as F32). */
  transform?: (t: GgufTensorSpec) => GgufTensorSpec;
  /** A folder with tokenizer.json to embed (default: the model folder's, when it has one; else a byte-level vocabulary, as llama.cpp needs one). */
  tokenizerDir?: string;
  /**
   * DeepSeek's kv_b_proj (deepseek2): 'kv_b' writes attn_kv_b as is; 'split' writes it as current llama.cpp's
   * DeepseekV2Model.modify_tensors does: kv_b viewed [H, nope + v, r] split into attn_k_b [H, r, nope]
   * (each head's key part transposed) and attn_v_b [H, v, r], without attn_kv_b; 'both' writes all three.
   */
  mla?: 'kv_b' | 'split' | 'both';
}

/** convert_hf_to_gguf's LlamaModel.permute: within each head, rows [half·hd/2 + i] → [2i + half]. */
export function permuteRows(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const hd = rows / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < hd / 2; i++) {
        const src = h * hd + half * (hd / 2) + i;
        const dst = h * hd + 2 * i + half;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** The `{arch}.*` metadata convert_hf_to_gguf.py writes for our families. */
export function archMetadata(cfg: Record<string, unknown>, arch: string): Record<string, MetaValue> {
  const m: Record<string, MetaValue> = {};
  const set = (key: string, v: MetaValue | undefined): void => {
    if (v !== undefined) {
      m[`${arch}.${key}`] = v;
    }
  };
  const u32 = (v: unknown): MetaValue | undefined => (num(v) === undefined ? undefined : gv.u32(num(v) as number));
  const f32 = (v: unknown): MetaValue | undefined => (num(v) === undefined ? undefined : gv.f32(num(v) as number));
  const experts = cfg.num_local_experts ?? cfg.num_experts ?? cfg.n_routed_experts;
  set('context_length', u32(cfg.max_position_embeddings));
  set('embedding_length', u32(cfg.hidden_size));
  set('block_count', u32(cfg.num_hidden_layers));
  set('attention.head_count', u32(cfg.num_attention_heads));
  set('attention.head_count_kv', u32(cfg.num_key_value_heads ?? cfg.num_attention_heads));
  set('attention.layer_norm_rms_epsilon', f32(cfg.rms_norm_eps));
  set('rope.freq_base', f32(cfg.rope_theta));
  set('expert_count', u32(experts));
  set('expert_used_count', u32(cfg.num_experts_per_tok));
  set('vocab_size', u32(cfg.vocab_size));
  switch (arch) {
    case 'llama':
    case 'olmoe':
    case 'granitemoe':
      set('feed_forward_length', u32(cfg.intermediate_size)); // the expert width
      break;
    case 'qwen2moe':
      set('feed_forward_length', u32(cfg.intermediate_size));
      set('expert_feed_forward_length', u32(cfg.moe_intermediate_size));
      set('expert_shared_feed_forward_length', u32(cfg.shared_expert_intermediate_size));
      break;
    case 'qwen3moe':
      set('feed_forward_length', u32(cfg.intermediate_size));
      set('expert_feed_forward_length', u32(cfg.moe_intermediate_size));
      set('attention.key_length', u32(cfg.head_dim));
      set('attention.value_length', u32(cfg.head_dim));
      break;
    case 'deepseek2': {
      const rope = cfg.qk_rope_head_dim as number;
      set('feed_forward_length', u32(cfg.intermediate_size));
      set('expert_feed_forward_length', u32(cfg.moe_intermediate_size));
      set('leading_dense_block_count', u32(cfg.first_k_dense_replace));
      set('expert_shared_count', u32(cfg.n_shared_experts));
      set('expert_weights_scale', f32(cfg.routed_scaling_factor));
      set('expert_weights_norm', gv.bool(cfg.norm_topk_prob === true));
      set('expert_gating_func', gv.u32(2));
      set('expert_group_count', u32(cfg.n_group));
      set('expert_group_used_count', u32(cfg.topk_group));
      if (cfg.q_lora_rank !== null) {
        set('attention.q_lora_rank', u32(cfg.q_lora_rank));
      }
      set('attention.kv_lora_rank', u32(cfg.kv_lora_rank));
      set('attention.key_length', u32((cfg.qk_nope_head_dim as number) + rope));
      set('attention.value_length', u32(cfg.v_head_dim));
      set('rope.dimension_count', u32(rope));
      break;
    }
    case 'gpt-oss':
      set('expert_feed_forward_length', u32(cfg.intermediate_size));
      set('attention.key_length', u32(cfg.head_dim));
      set('attention.value_length', u32(cfg.head_dim));
      set('attention.sliding_window', u32(cfg.sliding_window));
      break;
  }
  if (arch === 'granitemoe') {
    set('attention.scale', f32(cfg.attention_multiplier));
    set('embedding_scale', f32(cfg.embedding_multiplier));
    set('residual_scale', f32(cfg.residual_multiplier));
    set('logit_scale', f32(cfg.logits_scaling));
  }
  const scaling = cfg.rope_scaling as Record<string, unknown> | null | undefined;
  if (scaling && (scaling.rope_type ?? scaling.type) === 'yarn') {
    set('rope.scaling.type', 'yarn');
    set('rope.scaling.factor', f32(scaling.factor));
    set('rope.scaling.original_context_length', u32(scaling.original_max_position_embeddings));
    if (arch === 'deepseek2') {
      set('rope.scaling.yarn_log_multiplier', f32(0.1 * ((scaling.mscale_all_dim as number | undefined) ?? 0)));
    }
  }
  return m;
}

/** Reads every tensor of the checkpoint under its GGUF name(s), converted as llama.cpp's converter does. */
async function ggufTensors(ckpt: Checkpoint, cfg: Record<string, unknown>, arch: string, type: GgmlTypeName, expertType: GgmlTypeName, untie: boolean, mla: 'kv_b' | 'split' | 'both'): Promise<GgufTensorSpec[]> {
  const out: GgufTensorSpec[] = [];
  const heads = cfg.num_attention_heads as number;
  const kvHeads = (cfg.num_key_value_heads as number | undefined) ?? heads;
  const read = (n: string): Promise<Float32Array> => ckpt.readFloat32(n);
  const push = (name: string, shape: number[], values: Float32Array, t?: GgmlTypeName): void => {
    out.push({ name, shape, values, type: t ?? (shape.length >= 2 ? type : 'F32') });
  };
  const names = new Set(ckpt.names());
  const layers = cfg.num_hidden_layers as number;
  push('token_embd.weight', ckpt.info('model.embed_tokens.weight').shape, await read('model.embed_tokens.weight'));
  push('output_norm.weight', ckpt.info('model.norm.weight').shape, await read('model.norm.weight'));
  if (names.has('lm_head.weight') && cfg.tie_word_embeddings !== true) {
    push('output.weight', ckpt.info('lm_head.weight').shape, await read('lm_head.weight'));
  } else if (untie) {
    push('output.weight', ckpt.info('model.embed_tokens.weight').shape, await read('model.embed_tokens.weight'));
  }
  const direct: [string, string][] = [
    ['input_layernorm.weight', 'attn_norm.weight'],
    ['post_attention_layernorm.weight', arch === 'gpt-oss' ? 'post_attention_norm.weight' : 'ffn_norm.weight'],
    ['self_attn.v_proj.weight', 'attn_v.weight'],
    ['self_attn.v_proj.bias', 'attn_v.bias'],
    ['self_attn.o_proj.weight', 'attn_output.weight'],
    ['self_attn.o_proj.bias', 'attn_output.bias'],
    ['self_attn.q_norm.weight', 'attn_q_norm.weight'],
    ['self_attn.k_norm.weight', 'attn_k_norm.weight'],
    ['self_attn.sinks', 'attn_sinks.weight'],
    ['self_attn.q_a_proj.weight', 'attn_q_a.weight'],
    ['self_attn.q_a_layernorm.weight', 'attn_q_a_norm.weight'],
    ['self_attn.q_b_proj.weight', 'attn_q_b.weight'],
    ['self_attn.kv_a_proj_with_mqa.weight', 'attn_kv_a_mqa.weight'],
    ['self_attn.kv_a_layernorm.weight', 'attn_kv_a_norm.weight'],
    ['self_attn.kv_b_proj.weight', 'attn_kv_b.weight'],
    ['mlp.gate_proj.weight', 'ffn_gate.weight'],
    ['mlp.up_proj.weight', 'ffn_up.weight'],
    ['mlp.down_proj.weight', 'ffn_down.weight'],
    ['mlp.gate.weight', 'ffn_gate_inp.weight'],
    ['block_sparse_moe.gate.weight', 'ffn_gate_inp.weight'],
    ['block_sparse_moe.router.layer.weight', 'ffn_gate_inp.weight'],
    ['mlp.router.weight', 'ffn_gate_inp.weight'],
    ['mlp.router.bias', 'ffn_gate_inp.bias'],
    ['mlp.gate.e_score_correction_bias', 'exp_probs_b.bias'],
    ['mlp.experts.down_proj_bias', 'ffn_down_exps.bias'],
  ];
  for (const [sh, sg] of [['shared_expert', 'shexp'], ['shared_experts', 'shexp']]) {
    for (const proj of ['gate', 'up', 'down']) {
      direct.push([`mlp.${sh}.${proj}_proj.weight`, `ffn_${proj}_${sg}.weight`]);
    }
  }
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    const b = `blk.${i}`;
    for (const [hf, g] of direct) {
      if (names.has(`${p}.${hf}`) && !(hf === 'self_attn.kv_b_proj.weight' && mla === 'split')) {
        const info = ckpt.info(`${p}.${hf}`);
        push(`${b}.${g}`, info.shape, await read(`${p}.${hf}`));
      }
    }
    if (mla !== 'kv_b' && names.has(`${p}.self_attn.kv_b_proj.weight`)) {
      pushKvBSplit(push, b, await read(`${p}.self_attn.kv_b_proj.weight`), ckpt.info(`${p}.self_attn.kv_b_proj.weight`).shape, kvHeads, cfg);
    }
    if (names.has(`${p}.mlp.shared_expert_gate.weight`)) {
      push(`${b}.ffn_gate_inp_shexp.weight`, [cfg.hidden_size as number], await read(`${p}.mlp.shared_expert_gate.weight`)); // 1-D, as llama.cpp reads it
    }
    for (const [proj, g] of [['q', 'attn_q'], ['k', 'attn_k']] as const) {
      const permute = arch === 'llama' || arch === 'granitemoe';
      const h = proj === 'q' ? heads : kvHeads;
      for (const suffix of ['weight', 'bias']) {
        const n = `${p}.self_attn.${proj}_proj.${suffix}`;
        if (names.has(n)) {
          const info = ckpt.info(n);
          const cols = info.shape.length === 2 ? info.shape[1] : 1;
          const v = await read(n);
          push(`${b}.${g}.${suffix}`, info.shape, permute ? permuteRows(v, info.shape[0], cols, h) : v);
        }
      }
    }
    await pushExperts(ckpt, cfg, arch, p, b, expertType, out);
  }
  return out;
}

/** The routed experts of one layer, stacked [E, …] under ffn_{gate,up,down}_exps. */
async function pushExperts(ckpt: Checkpoint, cfg: Record<string, unknown>, arch: string, p: string, b: string, type: GgmlTypeName, out: GgufTensorSpec[]): Promise<void> {
  const names = new Set(ckpt.names());
  const E = (cfg.num_local_experts ?? cfg.num_experts ?? cfg.n_routed_experts) as number;
  const stack = async (hf: (e: number) => string): Promise<{ values: Float32Array; shape: number[] }> => {
    const shape = ckpt.info(hf(0)).shape;
    const size = shape.reduce((a, c) => a * c, 1);
    const values = new Float32Array(E * size);
    for (let e = 0; e < E; e++) {
      values.set(await ckpt.readFloat32(hf(e)), e * size);
    }
    return { values, shape: [E, ...shape] };
  };
  if (arch === 'granitemoe') {
    const input = `${p}.block_sparse_moe.input_linear.weight`;
    const [, twoI, D] = ckpt.info(input).shape;
    const all = await ckpt.readFloat32(input);
    const I = twoI / 2;
    const gate = new Float32Array(E * I * D);
    const up = new Float32Array(E * I * D);
    for (let e = 0; e < E; e++) {
      gate.set(all.subarray(e * 2 * I * D, e * 2 * I * D + I * D), e * I * D);
      up.set(all.subarray(e * 2 * I * D + I * D, (e + 1) * 2 * I * D), e * I * D);
    }
    out.push({ name: `${b}.ffn_gate_exps.weight`, shape: [E, I, D], values: gate, type });
    out.push({ name: `${b}.ffn_up_exps.weight`, shape: [E, I, D], values: up, type });
    const down = `${p}.block_sparse_moe.output_linear.weight`;
    out.push({ name: `${b}.ffn_down_exps.weight`, shape: ckpt.info(down).shape, values: await ckpt.readFloat32(down), type });
    return;
  }
  if (arch === 'gpt-oss') {
    const gu = `${p}.mlp.experts.gate_up_proj`;
    if (!names.has(gu)) {
      return;
    }
    const [, D, twoI] = ckpt.info(gu).shape;
    const I = twoI / 2;
    const all = await ckpt.readFloat32(gu);
    const bias = await ckpt.readFloat32(`${gu}_bias`);
    const gate = new Float32Array(E * I * D);
    const up = new Float32Array(E * I * D);
    const gateB = new Float32Array(E * I);
    const upB = new Float32Array(E * I);
    for (let e = 0; e < E; e++) {
      for (let d = 0; d < D; d++) {
        for (let j = 0; j < I; j++) {
          gate[e * I * D + j * D + d] = all[e * D * twoI + d * twoI + 2 * j];
          up[e * I * D + j * D + d] = all[e * D * twoI + d * twoI + 2 * j + 1];
        }
      }
      for (let j = 0; j < I; j++) {
        gateB[e * I + j] = bias[e * twoI + 2 * j];
        upB[e * I + j] = bias[e * twoI + 2 * j + 1];
      }
    }
    const downAll = await ckpt.readFloat32(`${p}.mlp.experts.down_proj`); // [E, I, D]
    const down = new Float32Array(E * D * I);
    for (let e = 0; e < E; e++) {
      down.set(transpose(downAll.subarray(e * I * D, (e + 1) * I * D), I, D), e * D * I);
    }
    out.push({ name: `${b}.ffn_gate_exps.weight`, shape: [E, I, D], values: gate, type });
    out.push({ name: `${b}.ffn_up_exps.weight`, shape: [E, I, D], values: up, type });
    out.push({ name: `${b}.ffn_down_exps.weight`, shape: [E, D, I], values: down, type });
    out.push({ name: `${b}.ffn_gate_exps.bias`, shape: [E, I], values: gateB, type: 'F32' });
    out.push({ name: `${b}.ffn_up_exps.bias`, shape: [E, I], values: upB, type: 'F32' });
    return;
  }
  const prefix = arch === 'llama' ? `${p}.block_sparse_moe.experts` : `${p}.mlp.experts`;
  const projs: [string, string][] = arch === 'llama' ? [['w1', 'gate'], ['w3', 'up'], ['w2', 'down']] : [['gate_proj', 'gate'], ['up_proj', 'up'], ['down_proj', 'down']];
  if (!names.has(`${prefix}.0.${projs[0][0]}.weight`)) {
    return; // a dense layer
  }
  for (const [hf, g] of projs) {
    const s = await stack((e) => `${prefix}.${e}.${hf}.weight`);
    out.push({ name: `${b}.ffn_${g}_exps.weight`, shape: s.shape, values: s.values, type });
  }
}

/**
 * llama.cpp's kv_b_proj split (DeepseekV2Model.modify_tensors): kv_b [H·(nope + v), r] viewed as [H, nope + v, r],
 * split on dim 1 into k_b [H, nope, r] and v_b [H, v, r]; k_b.transpose(1, 2) → attn_k_b [H, r, nope].
 * Shapes here are numpy order (the writer reverses them into ggml's ne: attn_k_b ne = [nope, r, H]).
 */
function pushKvBSplit(push: (name: string, shape: number[], values: Float32Array) => void, b: string, kvB: Float32Array, shape: readonly number[], heads: number, cfg: Record<string, unknown>): void {
  const nope = cfg.qk_nope_head_dim as number;
  const v = cfg.v_head_dim as number;
  const r = shape[1];
  if (shape[0] !== heads * (nope + v)) {
    throw new Error(`${b}: kv_b_proj has ${shape[0]} rows, not ${heads}·(${nope} + ${v})`);
  }
  const kB = new Float32Array(heads * r * nope);
  const vB = new Float32Array(heads * v * r);
  for (let h = 0; h < heads; h++) {
    const base = h * (nope + v) * r;
    for (let i = 0; i < nope; i++) {
      for (let j = 0; j < r; j++) {
        kB[h * r * nope + j * nope + i] = kvB[base + i * r + j];
      }
    }
    vB.set(kvB.subarray(base + nope * r, base + (nope + v) * r), h * v * r);
  }
  push(`${b}.attn_k_b.weight`, [heads, r, nope], kB);
  push(`${b}.attn_v_b.weight`, [heads, v, r], vB);
}

/** Writes `dir` (config.json + safetensors, and tokenizer.json when there is one) as a GGUF file. */
export async function convertHfToGguf(dir: string, outFile: string, opts: ConvertOptions = {}): Promise<void> {
  const cfg = await readModelConfig(dir);
  const arch = ARCH_OF[cfg.model_type as string];
  if (!arch) {
    throw new Error(`model_type ${String(cfg.model_type)} has no GGUF architecture here`);
  }
  const ckpt = await openCheckpoint(dir);
  try {
    const type = opts.type ?? 'F32';
    const tensors = await ggufTensors(ckpt, cfg, arch, type, opts.expertType ?? type, opts.untie ?? false, opts.mla ?? 'kv_b');
    const tokenizer = tokenizerMetadata(opts.tokenizerDir ?? dir, cfg.vocab_size as number) ?? byteVocabMetadata(cfg.vocab_size as number);
    const meta: Record<string, MetaValue> = {
      'general.architecture': arch,
      'general.name': typeof cfg._name_or_path === 'string' ? cfg._name_or_path : path.basename(path.resolve(dir)),
      ...archMetadata(cfg, arch),
      ...tokenizer,
      ...opts.meta,
    };
    writeGguf(outFile, meta, opts.transform ? tensors.map(opts.transform) : tensors);
  } finally {
    await ckpt.close();
  }
}

if (require.main === module) {
  const [dir, out, flag, type] = process.argv.slice(2);
  if (!dir || !out) {
    console.error('usage: tsx tools/gguf/convertHf.ts MODEL_DIR OUT.gguf [--type F32|F16|BF16|Q8_0|Q4_0]');
    process.exit(2);
  }
  convertHfToGguf(dir, out, { type: flag === '--type' ? (type as GgmlTypeName) : 'F32' }).catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
