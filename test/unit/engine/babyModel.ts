/**
 * Tiny random checkpoints per family, written as real safetensors + config.json into a temp folder
 * (mlx-lm's "baby model" tests): the tensor names and shapes are those of real checkpoints.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors, type TensorSpec } from '../../helpers/writeSafetensors';

/** Deterministic uniform(−scale, scale) numbers (mulberry32). */
export function rng(seed: number): (scale?: number) => number {
  let a = seed >>> 0;
  return (scale = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  };
}

export const BABY = { V: 64, D: 32, H: 4, KV: 2, hd: 8, L: 2, E: 4, k: 2, I: 16 } as const;

export type Family = 'mixtral' | 'qwen2_moe' | 'qwen3_moe' | 'olmoe' | 'granitemoe';

function baseConfig(modelType: Family): Record<string, unknown> {
  const { V, D, H, KV, L, E, k, I } = BABY;
  const common = {
    model_type: modelType,
    vocab_size: V,
    hidden_size: D,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: KV,
    intermediate_size: I,
    max_position_embeddings: 64,
    num_experts_per_tok: k,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  };
  switch (modelType) {
    case 'mixtral':
      return { ...common, num_local_experts: E };
    case 'qwen2_moe':
      return { ...common, num_experts: E, moe_intermediate_size: I, shared_expert_intermediate_size: 24, norm_topk_prob: false };
    case 'qwen3_moe':
      return { ...common, num_experts: E, moe_intermediate_size: I, head_dim: BABY.hd, norm_topk_prob: true };
    case 'olmoe':
      return { ...common, num_experts: E, norm_topk_prob: false, clip_qkv: 2.0 };
    case 'granitemoe':
      return {
        ...common,
        num_local_experts: E,
        embedding_multiplier: 6,
        attention_multiplier: 0.2,
        residual_multiplier: 0.5,
        logits_scaling: 4,
        tie_word_embeddings: true,
      };
  }
}

/** Tensor names and shapes exactly as the family's HF checkpoints store them. */
function tensorShapes(modelType: Family, cfg: Record<string, unknown>): Map<string, number[]> {
  const { D, H, KV, hd, I } = BABY;
  const L = cfg.num_hidden_layers as number;
  const E = (cfg.num_local_experts ?? cfg.num_experts) as number; // BABY.E unless overridden (E = 1 for dense-equals-the-expert)
  const V = cfg.vocab_size as number;
  const shapes = new Map<string, number[]>([
    ['model.embed_tokens.weight', [V, D]],
    ['model.norm.weight', [D]],
  ]);
  if (!cfg.tie_word_embeddings) {
    shapes.set('lm_head.weight', [V, D]);
  }
  const mlpOnly = (cfg.mlp_only_layers as number[] | undefined) ?? [];
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [D]).set(`${p}.post_attention_layernorm.weight`, [D]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [H * hd, D]).set(`${p}.self_attn.k_proj.weight`, [KV * hd, D]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [KV * hd, D]).set(`${p}.self_attn.o_proj.weight`, [D, H * hd]);
    if (modelType === 'qwen2_moe') {
      shapes.set(`${p}.self_attn.q_proj.bias`, [H * hd]).set(`${p}.self_attn.k_proj.bias`, [KV * hd]).set(`${p}.self_attn.v_proj.bias`, [KV * hd]);
    }
    if (modelType === 'qwen3_moe') {
      shapes.set(`${p}.self_attn.q_norm.weight`, [hd]).set(`${p}.self_attn.k_norm.weight`, [hd]);
    }
    if (modelType === 'olmoe') {
      shapes.set(`${p}.self_attn.q_norm.weight`, [H * hd]).set(`${p}.self_attn.k_norm.weight`, [KV * hd]);
    }
    const swiglu = (prefix: string, names: [string, string, string], width: number): void => {
      shapes.set(`${prefix}.${names[0]}.weight`, [width, D]).set(`${prefix}.${names[1]}.weight`, [width, D]).set(`${prefix}.${names[2]}.weight`, [D, width]);
    };
    if (modelType === 'mixtral') {
      shapes.set(`${p}.block_sparse_moe.gate.weight`, [E, D]);
      for (let e = 0; e < E; e++) {
        swiglu(`${p}.block_sparse_moe.experts.${e}`, ['w1', 'w3', 'w2'], I);
      }
    } else if (modelType === 'granitemoe') {
      shapes.set(`${p}.block_sparse_moe.router.layer.weight`, [E, D]);
      shapes.set(`${p}.block_sparse_moe.input_linear.weight`, [E, 2 * I, D]).set(`${p}.block_sparse_moe.output_linear.weight`, [E, D, I]);
    } else if (mlpOnly.includes(i)) {
      swiglu(`${p}.mlp`, ['gate_proj', 'up_proj', 'down_proj'], I);
    } else {
      shapes.set(`${p}.mlp.gate.weight`, [E, D]);
      for (let e = 0; e < E; e++) {
        swiglu(`${p}.mlp.experts.${e}`, ['gate_proj', 'up_proj', 'down_proj'], I);
      }
      if (modelType === 'qwen2_moe') {
        swiglu(`${p}.mlp.shared_expert`, ['gate_proj', 'up_proj', 'down_proj'], 24);
        shapes.set(`${p}.mlp.shared_expert_gate.weight`, [1, D]);
      }
    }
  }
  return shapes;
}

/**
 * Writes a baby checkpoint of `modelType` (config overrides merged in) and returns its folder.
 * `edit` may change a tensor's values before it is written (e.g. weights that overflow); `dtype`
 * BF16 stores them as real checkpoints ship.
 */
export function makeBabyModel(
  modelType: Family,
  overrides: Record<string, unknown> = {},
  seed = 7,
  edit?: (name: string, data: Float32Array) => void,
  dtype: 'F32' | 'BF16' = 'F32',
): string {
  const cfg = { ...baseConfig(modelType), ...overrides };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `moe-lens-baby-${modelType}-`));
  const rand = rng(seed);
  const tensors: Record<string, TensorSpec> = {};
  for (const [name, shape] of tensorShapes(modelType, cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = name.endsWith('norm.weight');
    const data = Float32Array.from({ length: n }, () => (isNorm ? 1 + rand(0.1) : rand(0.4)));
    edit?.(name, data);
    tensors[name] = { dtype, shape, data };
  }
  // Stored in name order (the random draws above keep the shape table's order, so seeds give the same weights).
  const sorted = Object.fromEntries(Object.entries(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), sorted);
  return dir;
}
