/**
 * @file Generates an OLMoE-shaped checkpoint (random bf16 weights, sharded, with an index and a
 * plausible config.json) for bench/forward and for any test that needs a real-layout model folder.
 * Weights are streamed shard by shard, so even large shapes never sit in memory whole.
 *
 *   import { writeOlmoeCheckpoint, BENCH_OLMOE } from '../../bench/forwardCheckpoint';
 *   writeOlmoeCheckpoint(dir, { ...BENCH_OLMOE, numLayers: 1, hiddenSize: 64, ... });
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeSafetensorsStreaming, type WriteDtype } from '../test/helpers/writeSafetensors';

export interface OlmoeShape {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  numExperts: number;
  topK: number;
  maxPositions: number;
  /** Number of .safetensors shards (≥ 1; > 1 writes model.safetensors.index.json). */
  shards: number;
  seed: number;
}

/** The bench shape: hidden 1024, 4 layers, 8 experts top-2, expert width 1024, vocab 8192. */
export const BENCH_OLMOE: OlmoeShape = {
  vocabSize: 8192,
  hiddenSize: 1024,
  intermediateSize: 1024,
  numLayers: 4,
  numHeads: 16,
  numKvHeads: 16,
  numExperts: 8,
  topK: 2,
  maxPositions: 4096,
  shards: 3,
  seed: 1234,
};

/** config.json as OLMoE-1B-7B writes it, with this shape's sizes. */
export function olmoeConfig(s: OlmoeShape): Record<string, unknown> {
  return {
    architectures: ['OlmoeForCausalLM'],
    model_type: 'olmoe',
    attention_bias: false,
    attention_dropout: 0.0,
    clip_qkv: null,
    hidden_act: 'silu',
    hidden_size: s.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: s.intermediateSize,
    max_position_embeddings: s.maxPositions,
    norm_topk_prob: false,
    num_attention_heads: s.numHeads,
    num_experts: s.numExperts,
    num_experts_per_tok: s.topK,
    num_hidden_layers: s.numLayers,
    num_key_value_heads: s.numKvHeads,
    output_router_logits: false,
    pad_token_id: 1,
    bos_token_id: null,
    eos_token_id: 0,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    router_aux_loss_coef: 0.01,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    transformers_version: '4.57.6',
    use_cache: true,
    vocab_size: s.vocabSize,
  };
}

interface TensorPlan {
  name: string;
  dtype: WriteDtype;
  shape: number[];
  /** 'one' for norm weights (1.0 ± noise), otherwise the std of the random init. */
  init: 'one' | number;
}

export function olmoeTensors(s: OlmoeShape): TensorPlan[] {
  const D = s.hiddenSize;
  const hd = D / s.numHeads;
  const std = 0.02;
  const out: TensorPlan[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [s.vocabSize, D], init: std }];
  for (let i = 0; i < s.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.input_layernorm.weight`, dtype: 'BF16', shape: [D], init: 'one' },
      { name: `${p}.self_attn.q_proj.weight`, dtype: 'BF16', shape: [s.numHeads * hd, D], init: std },
      { name: `${p}.self_attn.k_proj.weight`, dtype: 'BF16', shape: [s.numKvHeads * hd, D], init: std },
      { name: `${p}.self_attn.v_proj.weight`, dtype: 'BF16', shape: [s.numKvHeads * hd, D], init: std },
      { name: `${p}.self_attn.o_proj.weight`, dtype: 'BF16', shape: [D, s.numHeads * hd], init: std },
      { name: `${p}.self_attn.q_norm.weight`, dtype: 'BF16', shape: [s.numHeads * hd], init: 'one' },
      { name: `${p}.self_attn.k_norm.weight`, dtype: 'BF16', shape: [s.numKvHeads * hd], init: 'one' },
      { name: `${p}.post_attention_layernorm.weight`, dtype: 'BF16', shape: [D], init: 'one' },
      // A wider router init spreads the tokens over the experts unevenly, as trained routers do.
      { name: `${p}.mlp.gate.weight`, dtype: 'BF16', shape: [s.numExperts, D], init: 0.1 },
    );
    for (let e = 0; e < s.numExperts; e++) {
      const x = `${p}.mlp.experts.${e}`;
      out.push(
        { name: `${x}.gate_proj.weight`, dtype: 'BF16', shape: [s.intermediateSize, D], init: std },
        { name: `${x}.up_proj.weight`, dtype: 'BF16', shape: [s.intermediateSize, D], init: std },
        { name: `${x}.down_proj.weight`, dtype: 'BF16', shape: [D, s.intermediateSize], init: std },
      );
    }
  }
  out.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [D], init: 'one' }, { name: 'lm_head.weight', dtype: 'BF16', shape: [s.vocabSize, D], init: std });
  return out;
}

/** xorshift32 → approximately normal bf16 (sum of 4 uniforms), fast enough for 100M+ values. */
function bf16Random(count: number, init: 'one' | number, state: { s: number }): Uint8Array {
  const out = new Uint16Array(count);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = state.s;
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let j = 0; j < 4; j++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      sum += (s >>> 0) / 4294967296;
    }
    const z = (sum - 2) * 1.7320508; // mean 0, std 1
    f[0] = init === 'one' ? 1 + 0.05 * z : init * z;
    out[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  state.s = s;
  return new Uint8Array(out.buffer);
}

/** Parameter count of the shape (all tensors) and of what one token touches (k experts, not all). */
export function olmoeParams(s: OlmoeShape): { total: number; active: number } {
  let total = 0;
  let experts = 0;
  for (const t of olmoeTensors(s)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    total += n;
    if (t.name.includes('.mlp.experts.')) {
      experts += n;
    }
  }
  return { total, active: total - experts + (experts * s.topK) / s.numExperts };
}

/**
 * Writes config.json, the shards and (when shards > 1) model.safetensors.index.json into `dir`.
 * Skips the work when `dir` already holds a checkpoint of exactly this shape (bench reruns).
 */
export function writeOlmoeCheckpoint(dir: string, s: OlmoeShape = BENCH_OLMOE): { dir: string; bytes: number; reused: boolean } {
  const stamp = path.join(dir, 'bench-shape.json');
  const want = JSON.stringify(s);
  const tensors = olmoeTensors(s);
  const bytes = tensors.reduce((a, t) => a + 2 * t.shape.reduce((x, y) => x * y, 1), 0);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) {
    return { dir, bytes, reused: true };
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(olmoeConfig(s), null, 2));
  // Split by bytes into `shards` nearly equal groups, in tensor order (as save_pretrained does).
  const groups: TensorPlan[][] = Array.from({ length: s.shards }, () => []);
  let acc = 0;
  for (const t of tensors) {
    const g = Math.min(s.shards - 1, Math.floor((acc / bytes) * s.shards));
    groups[g].push(t);
    acc += 2 * t.shape.reduce((x, y) => x * y, 1);
  }
  const state = { s: s.seed >>> 0 || 1 };
  const names =
    s.shards === 1
      ? ['model.safetensors']
      : groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(s.shards).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  groups.forEach((g, i) => {
    const byName = new Map(g.map((t) => [t.name, t]));
    writeSafetensorsStreaming(path.join(dir, names[i]), g, (name) => {
      const t = byName.get(name)!;
      return bf16Random(t.shape.reduce((a, b) => a * b, 1), t.init, state);
    });
    for (const t of g) {
      weightMap[t.name] = names[i];
    }
  });
  if (s.shards > 1) {
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }, null, 2));
  }
  writeFileSync(stamp, want);
  return { dir, bytes, reused: false };
}
