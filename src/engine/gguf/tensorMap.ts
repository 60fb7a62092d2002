/**
 * @file GGUF tensor names → the Hugging Face names our families read, as byte views of the GGUF
 * tensors: a stacked `blk.N.ffn_gate_exps` [E, I, D] becomes E tensors `….experts.e.gate_proj.weight`
 * [I, D] (one contiguous range each, so an expert is read only when routed to, at its stored type);
 * q/k rows permuted by llama.cpp's converter for pairwise RoPE are put back in Hugging Face order row
 * by row; GraniteMoE's gate and up are rejoined into `input_linear`. Only gpt-oss's interleaved
 * gate_up (and a transposed down) and DeepSeek's split k_b/v_b need values computed (float32).
 */
import type { StoredType, TensorInfo } from '../checkpoint/checkpoint';
import { PERMUTED_QK_ARCHES, GgufModelError } from './archConfig';

/** Bytes [from, to) of a GGUF tensor. */
export interface Segment {
  tensor: string;
  from: number;
  to: number;
}

/** A Hugging Face tensor made of byte ranges of GGUF tensors of one stored type, concatenated. */
export interface ByteView {
  kind: 'bytes';
  name: string;
  shape: number[];
  dtype: StoredType;
  segments: Segment[];
}

/** A Hugging Face tensor whose values are computed from GGUF tensors, one entry of its first axis at a time. */
export interface ComputedView {
  kind: 'computed';
  name: string;
  shape: number[];
  /** The GGUF tensors it is made from (sizes, the file). */
  sources: string[];
  /** Values per computed entry (one expert, one head's rows); the tensor is shape's product / this many entries. */
  entrySize: number;
  /** Entry `index`, from entries of GGUF tensors (`read(name, i)`: entry i along their first axis). */
  entry(read: (gguf: string, entry: number) => Promise<Float32Array>, index: number): Promise<Float32Array>;
}

export type TensorView = ByteView | ComputedView;

type Info = (name: string) => TensorInfo;

const product = (a: readonly number[]): number => a.reduce((x, y) => x * y, 1);

/** Bytes of one row (the last axis) of a GGUF tensor: whole blocks by the reader's checks. */
function rowBytes(t: TensorInfo): number {
  return (t.end - t.start) / product(t.shape.slice(0, -1));
}

function whole(t: TensorInfo, name: string, shape: number[] = t.shape): ByteView {
  if (product(shape) !== product(t.shape)) {
    throw new GgufModelError(`GGUF tensor '${t.name}' has shape [${t.shape}], which cannot be read as '${name}' [${shape}]`);
  }
  return { kind: 'bytes', name, shape, dtype: t.dtype, segments: [{ tensor: t.name, from: 0, to: t.end - t.start }] };
}

/** Entry e along the first axis of a stacked [E, …] tensor. */
function entryOf(t: TensorInfo, e: number, name: string): ByteView {
  const size = (t.end - t.start) / t.shape[0];
  return { kind: 'bytes', name, shape: t.shape.slice(1), dtype: t.dtype, segments: [{ tensor: t.name, from: e * size, to: (e + 1) * size }] };
}

/**
 * Undoes convert_hf_to_gguf's LlamaModel.permute: within each head of hd rows, Hugging Face row
 * half·hd/2 + i was written as row 2i + half. Works on weights (rows) and biases (1-D).
 */
function unpermuteRows(t: TensorInfo, heads: number, name: string): ByteView {
  const rows = t.shape[0];
  const bytesPerRow = t.shape.length === 1 ? (t.end - t.start) / rows : rowBytes(t);
  const hd = rows / heads;
  if (!Number.isInteger(hd) || hd % 2 !== 0) {
    throw new GgufModelError(`GGUF tensor '${t.name}' has ${rows} rows, not ${heads} heads of an even size`);
  }
  const segments: Segment[] = [];
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < hd / 2; i++) {
        const src = h * hd + 2 * i + half;
        segments.push({ tensor: t.name, from: src * bytesPerRow, to: (src + 1) * bytesPerRow });
      }
    }
  }
  return { kind: 'bytes', name, shape: t.shape, dtype: t.dtype, segments };
}

/** What the mapping needs to know about the model besides the tensors. */
export interface MapContext {
  arch: string;
  numHeads: number;
  numKvHeads: number;
}

const ATTENTION: Readonly<Record<string, string>> = {
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  attn_q_a: 'self_attn.q_a_proj',
  attn_q_a_norm: 'self_attn.q_a_layernorm',
  attn_q_b: 'self_attn.q_b_proj',
  attn_kv_a_mqa: 'self_attn.kv_a_proj_with_mqa',
  attn_kv_a_norm: 'self_attn.kv_a_layernorm',
  attn_kv_b: 'self_attn.kv_b_proj',
  attn_norm: 'input_layernorm',
  ffn_norm: 'post_attention_layernorm',
  post_attention_norm: 'post_attention_layernorm',
};

/** The MoE block's module name and its router's, per architecture. */
function moeNames(arch: string): { block: string; router: string; experts: string; proj: [string, string, string] } {
  switch (arch) {
    case 'llama':
      return { block: 'block_sparse_moe', router: 'block_sparse_moe.gate', experts: 'block_sparse_moe.experts', proj: ['w1', 'w3', 'w2'] };
    case 'granitemoe':
      return { block: 'block_sparse_moe', router: 'block_sparse_moe.router.layer', experts: 'block_sparse_moe', proj: ['gate_proj', 'up_proj', 'down_proj'] };
    case 'gpt-oss':
      return { block: 'mlp', router: 'mlp.router', experts: 'mlp.experts', proj: ['gate_proj', 'up_proj', 'down_proj'] };
    default:
      return { block: 'mlp', router: 'mlp.gate', experts: 'mlp.experts', proj: ['gate_proj', 'up_proj', 'down_proj'] };
  }
}

/**
 * Every tensor of the GGUF file under the Hugging Face name (and shape) the family reads. A GGUF
 * tensor the mapping does not know is an error naming it, never silently dropped.
 */
export function mapTensors(ggufNames: readonly string[], info: Info, ctx: MapContext): Map<string, TensorView> {
  const out = new Map<string, TensorView>();
  const add = (v: TensorView): void => {
    out.set(v.name, v);
  };
  const moe = moeNames(ctx.arch);
  const permute = PERMUTED_QK_ARCHES.has(ctx.arch);
  const handled = new Set<string>();
  for (const g of ggufNames) {
    const t = info(g);
    if (g === 'token_embd.weight') {
      add(whole(t, 'model.embed_tokens.weight'));
    } else if (g === 'output_norm.weight') {
      add(whole(t, 'model.norm.weight'));
    } else if (g === 'output.weight') {
      add(whole(t, 'lm_head.weight'));
    } else if (g === 'rope_freqs.weight' || g.endsWith('.rope_freqs.weight')) {
      // llama3-style rope factors: our families compute frequencies from the config
    } else {
      const m = /^blk\.(\d+)\.([a-z_]+)(?:\.(\d+))?\.(weight|bias)$/.exec(g);
      if (!m) {
        throw new GgufModelError(`GGUF tensor '${g}' is not one MoE Lens knows how to map for architecture '${ctx.arch}'`);
      }
      const [, layer, kind, expert, suffix] = m;
      const p = `model.layers.${layer}`;
      if (handled.has(g)) {
        continue;
      }
      if (kind in ATTENTION && expert === undefined) {
        const name = `${p}.${ATTENTION[kind]}.${suffix}`;
        if (permute && (kind === 'attn_q' || kind === 'attn_k')) {
          add(unpermuteRows(t, kind === 'attn_q' ? ctx.numHeads : ctx.numKvHeads, name));
        } else {
          add(whole(t, name));
        }
        continue;
      }
      mapFfn({ g, t, p, kind, expert, suffix, layer: Number(layer) }, moe, ctx, info, ggufNames, add, handled);
    }
  }
  return out;
}

interface FfnTensor {
  g: string;
  t: TensorInfo;
  p: string;
  kind: string;
  expert: string | undefined;
  suffix: string;
  layer: number;
}

function mapFfn(
  f: FfnTensor,
  moe: ReturnType<typeof moeNames>,
  ctx: MapContext,
  info: Info,
  ggufNames: readonly string[],
  add: (v: TensorView) => void,
  handled: Set<string>,
): void {
  const { g, t, p, kind, suffix } = f;
  const projIndex = { gate: 0, up: 1, down: 2 } as const;
  const exps = /^ffn_(gate|up|down)_exps$/.exec(kind);
  const shexp = /^ffn_(gate|up|down)_shexp$/.exec(kind);
  const dense = /^ffn_(gate|up|down)$/.exec(kind);
  if (kind === 'ffn_gate_inp' && f.expert === undefined) {
    add(whole(t, `${p}.${moe.router}.${suffix}`));
  } else if (kind === 'ffn_gate_inp_shexp') {
    add(whole(t, `${p}.mlp.shared_expert_gate.weight`, [1, t.shape[t.shape.length - 1]])); // 1-D in GGUF
  } else if (kind === 'exp_probs_b') {
    add(whole(t, `${p}.mlp.gate.e_score_correction_bias`));
  } else if (kind === 'attn_sinks') {
    add(whole(t, `${p}.self_attn.sinks`));
  } else if (exps && ctx.arch === 'gpt-oss') {
    mapGptOssExperts(f, exps[1] as 'gate' | 'up' | 'down', info, add, handled);
  } else if (exps && ctx.arch === 'granitemoe') {
    mapGraniteExperts(f, exps[1] as 'gate' | 'up' | 'down', info, add, handled);
  } else if (exps && suffix === 'weight') {
    const proj = moe.proj[projIndex[exps[1] as 'gate' | 'up' | 'down']];
    for (let e = 0; e < t.shape[0]; e++) {
      add(entryOf(t, e, `${p}.${moe.experts}.${e}.${proj}.weight`));
    }
  } else if (dense && f.expert !== undefined && ctx.arch === 'llama') {
    // Mixtral files from before stacked experts (2024): blk.N.ffn_gate.E.weight
    add(whole(t, `${p}.${moe.experts}.${f.expert}.${moe.proj[projIndex[dense[1] as 'gate' | 'up' | 'down']]}.weight`));
  } else if (shexp) {
    const module = ctx.arch === 'deepseek2' ? 'shared_experts' : 'shared_expert';
    add(whole(t, `${p}.mlp.${module}.${shexp[1]}_proj.${suffix}`));
  } else if (dense && f.expert === undefined) {
    add(whole(t, `${p}.mlp.${dense[1]}_proj.${suffix}`));
  } else if (kind === 'attn_k_b' || kind === 'attn_v_b') {
    mapDeepseekKvB(f, info, ggufNames, add, handled);
  } else {
    throw new GgufModelError(`GGUF tensor '${g}' is not one MoE Lens knows how to map for architecture '${ctx.arch}'`);
  }
}

/** GraniteMoE's input_linear [E, 2I, D] is gate then up per expert; output_linear is ffn_down_exps as is. */
function mapGraniteExperts(f: FfnTensor, which: 'gate' | 'up' | 'down', info: Info, add: (v: TensorView) => void, handled: Set<string>): void {
  const { t, p } = f;
  if (which === 'down') {
    add(whole(t, `${p}.block_sparse_moe.output_linear.weight`));
    return;
  }
  const gate = info(`blk.${f.layer}.ffn_gate_exps.weight`);
  const up = info(`blk.${f.layer}.ffn_up_exps.weight`);
  if (gate.dtype !== up.dtype) {
    throw new GgufModelError(`GGUF tensors '${gate.name}' (${gate.dtype}) and '${up.name}' (${up.dtype}) must share a type to be read as GraniteMoE's input_linear`);
  }
  const [E, I, D] = gate.shape;
  const g = (gate.end - gate.start) / E;
  const u = (up.end - up.start) / E;
  const segments: Segment[] = [];
  for (let e = 0; e < E; e++) {
    segments.push({ tensor: gate.name, from: e * g, to: (e + 1) * g }, { tensor: up.name, from: e * u, to: (e + 1) * u });
  }
  add({ kind: 'bytes', name: `${p}.block_sparse_moe.input_linear.weight`, shape: [E, 2 * I, D], dtype: gate.dtype, segments });
  handled.add(gate.name).add(up.name);
}

/**
 * gpt-oss stores gate_up_proj [E, D, 2I] with gate and up interleaved in the last axis and
 * down_proj [E, I, D] (in × out); llama.cpp's converter split and transposed them into
 * ffn_{gate,up}_exps [E, I, D] and ffn_down_exps [E, D, I].
 */
function mapGptOssExperts(f: FfnTensor, which: 'gate' | 'up' | 'down', info: Info, add: (v: TensorView) => void, handled: Set<string>): void {
  const { p, layer, suffix } = f;
  const gateName = `blk.${layer}.ffn_gate_exps.${suffix}`;
  const upName = `blk.${layer}.ffn_up_exps.${suffix}`;
  const base = `${p}.mlp.experts`;
  if (which === 'down') {
    const t = f.t;
    if (suffix === 'bias') {
      add(whole(t, `${base}.down_proj_bias`));
      return;
    }
    const [E, D, I] = t.shape;
    add({
      kind: 'computed',
      name: `${base}.down_proj`,
      shape: [E, I, D],
      sources: [t.name],
      entrySize: I * D,
      entry: async (read, e) => transpose(await read(t.name, e), D, I),
    });
    return;
  }
  const gate = info(gateName);
  handled.add(gateName).add(upName);
  if (suffix === 'bias') {
    const [E, I] = gate.shape;
    add({
      kind: 'computed',
      name: `${base}.gate_up_proj_bias`,
      shape: [E, 2 * I],
      sources: [gateName, upName],
      entrySize: 2 * I,
      entry: async (read, e) => interleave(await read(gateName, e), await read(upName, e), 1, I),
    });
    return;
  }
  const [E, I, D] = gate.shape;
  add({
    kind: 'computed',
    name: `${base}.gate_up_proj`,
    shape: [E, D, 2 * I],
    sources: [gateName, upName],
    entrySize: 2 * I * D,
    entry: async (read, e) => interleave(transpose(await read(gateName, e), I, D), transpose(await read(upName, e), I, D), D, I),
  });
}

/** DeepSeek's kv_b_proj [H·(nope + v), r] from llama.cpp's split attn_k_b [H, r, nope] (transposed) and attn_v_b [H, v, r]. */
function mapDeepseekKvB(f: FfnTensor, info: Info, ggufNames: readonly string[], add: (v: TensorView) => void, handled: Set<string>): void {
  const kb = `blk.${f.layer}.attn_k_b.weight`;
  const vb = `blk.${f.layer}.attn_v_b.weight`;
  handled.add(kb).add(vb);
  if (ggufNames.includes(`blk.${f.layer}.attn_kv_b.weight`)) {
    return; // the converter also wrote kv_b itself: read that
  }
  const [H, r, nope] = info(kb).shape;
  const v = info(vb).shape[1];
  add({
    kind: 'computed',
    name: `${f.p}.self_attn.kv_b_proj.weight`,
    shape: [H * (nope + v), r],
    sources: [kb, vb],
    entrySize: (nope + v) * r,
    entry: async (read, h) => {
      const kh = await read(kb, h); // [r, nope]
      const vh = await read(vb, h); // [v, r]
      const out = new Float32Array((nope + v) * r); // head h's rows: nope key rows, then v value rows
      out.set(transpose(kh, r, nope));
      out.set(vh, nope * r);
      return out;
    },
  });
}

/** [rows, cols] → [cols, rows] (host arrays; tools/gguf/convertHf.ts uses it too). */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[c * rows + r] = a[r * cols + c];
    }
  }
  return out;
}

/** Two [n, m] arrays → [n, 2m] with a's column j at 2j and b's at 2j + 1. */
function interleave(a: Float32Array, b: Float32Array, n: number, m: number): Float32Array {
  const out = new Float32Array(2 * n * m);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m; j++) {
      out[r * 2 * m + 2 * j] = a[r * m + j];
      out[r * 2 * m + 2 * j + 1] = b[r * m + j];
    }
  }
  return out;
}
