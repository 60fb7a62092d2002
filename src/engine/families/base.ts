/**
 * @file What every decoder-only MoE family shares: the config reader (transformers' defaults, clear
 * errors), the weight reader (checkpoint names → transposed tensors with shape checks), the Decoder
 * a family assembles, the standard GQA attention block, and `runDecoder`, the layer loop.
 *
 * A family file (mixtral.ts, …) reads its config, names its tensors and writes its router inline;
 * families with other attention (DeepSeek MLA, gpt-oss sinks) plug in their own `attention` closure.
 */
import type { LayerRouting, TraceModelInfo } from '../../shared/trace';
import { tf } from '../backend';
import type { Checkpoint } from '../checkpoint/checkpoint';
import { expertFfn, type ExpertMlp, type SwigluWeights } from '../moe';
import { applyRope, attention, linear, rmsNorm, ropeTables, type Linear, type RopeSpec, type RopeTables } from '../ops';
import { routeLayer, toRows, sigmoid, type FamilyRouter, type RoutingOverride } from '../routing';

// ---------------------------------------------------------------------------------------------
// Family contract
// ---------------------------------------------------------------------------------------------

/** The model description a family derives from its config (path and name are added by the loader). */
export type FamilyInfo = Omit<TraceModelInfo, 'path' | 'name'>;

export interface LoadedFamily {
  info: FamilyInfo;
  /** Longest sequence one forward pass may take. */
  maxContext: number;
  decoder: Decoder;
}

export interface FamilyDef<C = unknown> {
  modelType: string;
  /** config.json → typed spec, with the defaults transformers uses. */
  parseConfig(json: Record<string, unknown>): C;
  /** Reads the weights; every tensor created is owned by the returned decoder (see disposeDecoder). */
  load(ckpt: Checkpoint, cfg: C, onProgress?: (fraction: number) => void): Promise<LoadedFamily>;
}

// ---------------------------------------------------------------------------------------------
// Config reading
// ---------------------------------------------------------------------------------------------

/** Typed access to config.json: a key without a default is required; wrong types are named. */
export class ConfigReader {
  constructor(
    readonly json: Record<string, unknown>,
    readonly modelType: string,
  ) {}

  private fail(key: string, what: string): never {
    throw new Error(`config.json (${this.modelType}): '${key}' ${what}`);
  }

  private raw(key: string): unknown {
    const v = this.json[key];
    return typeof v === 'bigint' ? Number(v) : v;
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  num(key: string, dflt?: number): number {
    const v = this.raw(key) ?? dflt;
    if (v === undefined) {
      this.fail(key, 'is required but missing');
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.fail(key, `must be a finite number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A positive integer within a sanity bound (catches absurd configs before allocating anything). */
  int(key: string, dflt?: number, { min = 1, max = 1 << 24 }: { min?: number; max?: number } = {}): number {
    const v = this.num(key, dflt);
    if (!Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer in ${min}..${max}, got ${v}`);
    }
    return v;
  }

  optInt(key: string, dflt: number | null = null): number | null {
    return this.has(key) ? this.int(key) : dflt;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.raw(key) ?? dflt;
    if (typeof v !== 'boolean') {
      this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /**
   * The attention head size: `head_dim` when the family reads one and it is set, else
   * hidden_size / num_attention_heads, which must divide evenly. (transformers floors the division;
   * refusing names the likely typo instead of a tensor whose shape then disagrees.)
   */
  headDim(hiddenSize: number, numHeads: number, readsHeadDim: boolean): number {
    if (readsHeadDim && this.has('head_dim')) {
      return this.int('head_dim');
    }
    if (hiddenSize % numHeads !== 0) {
      this.fail('num_attention_heads', `(${numHeads}) does not divide 'hidden_size' (${hiddenSize})${readsHeadDim ? " and no 'head_dim' is given" : ''}`);
    }
    return hiddenSize / numHeads;
  }

  intList(key: string, dflt: number[]): number[] {
    const v = this.raw(key) ?? dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' && typeof x !== 'bigint')) {
      this.fail(key, `must be a list of integers, got ${JSON.stringify(v)}`);
    }
    return (v as (number | bigint)[]).map(Number);
  }
}

// ---------------------------------------------------------------------------------------------
// Weight reading
// ---------------------------------------------------------------------------------------------

/** Tensors created by the load in progress (loads run one at a time), so a failed load frees them. */
let loadTracker: tf.Tensor[] | null = null;

/** Runs a family's load; if it throws (bad tensor, abort), every tensor it created through a WeightReader is disposed. */
export async function withLoadCleanup<T>(load: () => Promise<T>): Promise<T> {
  const outer = loadTracker;
  const created: tf.Tensor[] = [];
  loadTracker = created;
  try {
    return await load();
  } catch (err) {
    tf.dispose(created.filter((t) => !t.isDisposed));
    throw err;
  } finally {
    loadTracker = outer;
  }
}

/** Reads named tensors as float32 tf tensors, checks their shapes, and reports byte progress. */
export class WeightReader {
  private done = 0;
  private readonly total: number;

  constructor(
    private readonly ckpt: Checkpoint,
    private readonly onProgress?: (fraction: number) => void,
  ) {
    this.total = ckpt.names().reduce((sum, n) => sum + (ckpt.info(n).end - ckpt.info(n).start), 0) || 1;
  }

  has(name: string): boolean {
    return this.ckpt.has(name);
  }

  /** Registers a tensor a family made itself from read data, so a failed load frees it too. */
  adopt<T extends tf.Tensor>(t: T): T {
    loadTracker?.push(t);
    return t;
  }

  /** The raw float32 values of a tensor whose shape must equal `shape`. */
  async read(name: string, shape: number[]): Promise<Float32Array> {
    const info = this.ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`tensor '${name}' has shape [${info.shape}], but config.json implies [${shape}]`);
    }
    const data = await this.ckpt.readFloat32(name);
    this.done += info.end - info.start;
    this.onProgress?.(Math.min(1, this.done / this.total));
    return data;
  }

  async vector(name: string, n: number): Promise<tf.Tensor1D> {
    return this.adopt(tf.tensor1d(await this.read(name, [n])));
  }

  /** An nn.Linear weight [out, in] (+ optional bias [out]), stored transposed [in, out]. */
  async linear(name: string, out: number, inDim: number, bias = false): Promise<Linear> {
    const w = tf.tensor2d(await this.read(`${name}.weight`, [out, inDim]), [out, inDim]);
    const wT = this.adopt(tf.transpose(w) as tf.Tensor2D); // [in, out]
    w.dispose();
    return { wT, b: bias ? await this.vector(`${name}.bias`, out) : null };
  }

  /** A SwiGLU MLP from three nn.Linear weights (gate/up [I, D], down [D, I]), gate and up fused. */
  async swiglu(gate: string, up: string, down: string, D: number, I: number): Promise<SwigluWeights> {
    const g = await this.linear(gate, I, D);
    const u = await this.linear(up, I, D);
    const gateUp = this.adopt(tf.concat([g.wT, u.wT], 1) as tf.Tensor2D); // [D, 2I]
    g.wT.dispose();
    u.wT.dispose();
    return { gateUp: { wT: gateUp, b: null }, down: await this.linear(down, D, I) };
  }

  /**
   * A router nn.Linear [E, D] (+ bias [E]). An expert count that disagrees with the weights is
   * named by its config key and both numbers, not as a shape mismatch.
   */
  async router(name: string, E: number, D: number, config: { modelType: string; key: string }, bias = false): Promise<Linear> {
    const shape = this.ckpt.info(`${name}.weight`).shape;
    if (shape.length === 2 && shape[0] !== E) {
      throw new Error(
        `config.json (${config.modelType}): '${config.key}' is ${E}, but the router '${name}.weight' has ${shape[0]} experts (shape [${shape.join(', ')}])`,
      );
    }
    return this.linear(name, E, D, bias);
  }

  /** A plain matrix [rows, cols] as stored, as a tensor. */
  async matrix(name: string, rows: number, cols: number): Promise<tf.Tensor2D> {
    return this.adopt(tf.tensor2d(await this.read(name, [rows, cols]), [rows, cols]));
  }
}

// ---------------------------------------------------------------------------------------------
// The decoder a family assembles
// ---------------------------------------------------------------------------------------------

export interface DenseFfn {
  kind: 'dense';
  mlp: (x: tf.Tensor2D) => tf.Tensor2D; // [T, D] → [T, D]
}

export interface MoeFfn {
  kind: 'moe';
  numExperts: number;
  topK: number;
  router: Linear; // [D, E] (+ [E] bias)
  route: FamilyRouter;
  experts: ExpertMlp;
  /** A shared expert on every token, scaled by σ(x·gate) when `gate` is given, else by 1. */
  shared: { mlp: (x: tf.Tensor2D) => tf.Tensor2D; gate: Linear | null } | null;
}

export interface DecoderLayer {
  /** The checkpoint's layer number. */
  layer: number;
  inputNorm: tf.Tensor1D; // [D]
  postNorm: tf.Tensor1D; // [D]
  attention: (x: tf.Tensor2D, rope: RopeTables) => tf.Tensor2D; // [T, D] → [T, D]
  ffn: DenseFfn | MoeFfn;
  /** Tensors this layer owns beyond the norms (attention and FFN weights), for dispose. */
  owned: tf.Tensor[];
}

export interface Decoder {
  embed: tf.Tensor2D; // [V, D]
  embeddingMultiplier: number;
  layers: DecoderLayer[];
  finalNorm: tf.Tensor1D; // [D]
  lmHead: Linear; // [D, V]
  /** Logits are divided by this (GraniteMoE's logits_scaling; 1 elsewhere). */
  logitsScaling: number;
  /** Sublayer outputs are multiplied by this before the residual add (GraniteMoE; 1 elsewhere). */
  residualMultiplier: number;
  rmsNormEps: number;
  rope: RopeSpec;
}

export function linearTensors(l: Linear | null): tf.Tensor[] {
  return l ? (l.b ? [l.wT, l.b] : [l.wT]) : [];
}

/**
 * Tied word embeddings: the LM head is the embedding matrix, kept transposed [D, V] (a copy, for
 * speed). The copy is tracked like a read tensor, so a failure or abort later in the load frees it.
 */
export function tiedHead(embed: tf.Tensor2D): Linear {
  const wT = tf.transpose(embed) as tf.Tensor2D;
  loadTracker?.push(wT);
  return { wT, b: null };
}

export function swigluTensors(w: SwigluWeights): tf.Tensor[] {
  return [...linearTensors(w.gateUp), ...linearTensors(w.down)];
}

export function disposeDecoder(d: Decoder): void {
  const seen = new Set<tf.Tensor>();
  const all = [d.embed, d.finalNorm, ...linearTensors(d.lmHead), ...d.layers.flatMap((l) => [l.inputNorm, l.postNorm, ...l.owned])];
  for (const t of all) {
    if (!seen.has(t)) {
      seen.add(t); // tied embeddings appear twice
      t.dispose();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Standard attention block (Mixtral, Qwen2/3-MoE, OLMoE, GraniteMoE)
// ---------------------------------------------------------------------------------------------

export interface AttentionWeights {
  q: Linear; // [D, H·hd]
  k: Linear; // [D, KV·hd]
  v: Linear; // [D, KV·hd]
  o: Linear; // [H·hd, D]
  /** Qwen3-MoE: RMSNorm per head [hd]; OLMoE: over the whole projection [H·hd] / [KV·hd]. */
  qNorm: tf.Tensor1D | null;
  kNorm: tf.Tensor1D | null;
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Multiplies q·kᵀ: 1/√hd, or GraniteMoE's attention_multiplier. */
  scale: number;
  qkNorm: 'none' | 'per-head' | 'whole';
  /** OLMoE's clip_qkv: q, k, v clamped to ±clip after the projections (and norms). */
  clipQkv: number | null;
  slidingWindow: number | null;
  eps: number;
}

export function attentionTensors(w: AttentionWeights): tf.Tensor[] {
  return [w.q, w.k, w.v, w.o].flatMap(linearTensors).concat([w.qNorm, w.kNorm].filter((t): t is tf.Tensor1D => t !== null));
}

/** Reads q/k/v/o (and q/k norms) under `prefix` (e.g. 'model.layers.3.self_attn'). */
export async function readAttention(
  r: WeightReader,
  prefix: string,
  D: number,
  s: AttentionShape,
  bias: { qkv: boolean; o: boolean },
): Promise<AttentionWeights> {
  const { numHeads: H, numKvHeads: KV, headDim: hd } = s;
  const normSize = (heads: number): number => (s.qkNorm === 'per-head' ? hd : heads * hd);
  return {
    q: await r.linear(`${prefix}.q_proj`, H * hd, D, bias.qkv),
    k: await r.linear(`${prefix}.k_proj`, KV * hd, D, bias.qkv),
    v: await r.linear(`${prefix}.v_proj`, KV * hd, D, bias.qkv),
    o: await r.linear(`${prefix}.o_proj`, D, H * hd, bias.o),
    qNorm: s.qkNorm === 'none' ? null : await r.vector(`${prefix}.q_norm.weight`, normSize(H)),
    kNorm: s.qkNorm === 'none' ? null : await r.vector(`${prefix}.k_norm.weight`, normSize(KV)),
  };
}

/** x [T, D] → attention output [T, D], in transformers' order of ops. */
export function standardAttention(w: AttentionWeights, s: AttentionShape) {
  return (x: tf.Tensor2D, rope: RopeTables): tf.Tensor2D => {
    const T = x.shape[0];
    const { numHeads: H, numKvHeads: KV, headDim: hd } = s;
    let q = linear(x, w.q); // [T, H·hd]
    let k = linear(x, w.k); // [T, KV·hd]
    let v = linear(x, w.v); // [T, KV·hd]
    if (s.qkNorm === 'whole') {
      q = rmsNorm(q, w.qNorm!, s.eps);
      k = rmsNorm(k, w.kNorm!, s.eps);
    }
    if (s.clipQkv !== null) {
      [q, k, v] = [q, k, v].map((t) => tf.clipByValue(t, -s.clipQkv!, s.clipQkv!));
    }
    let qh = tf.reshape(q, [T, H, hd]) as tf.Tensor3D; // [T, H, hd]
    let kh = tf.reshape(k, [T, KV, hd]) as tf.Tensor3D; // [T, KV, hd]
    const vh = tf.reshape(v, [T, KV, hd]) as tf.Tensor3D; // [T, KV, hd]
    if (s.qkNorm === 'per-head') {
      qh = rmsNorm(qh, w.qNorm!, s.eps);
      kh = rmsNorm(kh, w.kNorm!, s.eps);
    }
    qh = applyRope(qh, rope);
    kh = applyRope(kh, rope);
    const out = attention(qh, kh, vh, { scale: s.scale, slidingWindow: s.slidingWindow }); // [T, H·hd]
    return linear(out, w.o); // [T, D]
  };
}

// ---------------------------------------------------------------------------------------------
// The layer loop
// ---------------------------------------------------------------------------------------------

export interface ForwardContext {
  routing?: RoutingOverride;
  signal?: AbortSignal;
  /** Called after each layer with (layers done, layers total). */
  onLayer?: (done: number, total: number) => void;
}

export interface ForwardResult {
  layers: LayerRouting[];
  hidden: tf.Tensor2D; // [T, D] after the final norm: what the LM head sees (caller disposes)
}

/** The moe part of a layer once the routing is known: routed experts (+ shared expert) → [T, D]. */
function moeOutput(ffn: MoeFfn, x: tf.Tensor2D, experts: number[][], weights: number[][], sharedWeight: number[] | null): tf.Tensor2D {
  const routed = expertFfn(x, experts, weights, ffn.experts); // [T, D]
  if (!ffn.shared) {
    return routed;
  }
  const shared = ffn.shared.mlp(x); // [T, D]
  const scaled = sharedWeight && ffn.shared.gate ? tf.mul(shared, tf.tensor2d(sharedWeight, [sharedWeight.length, 1])) : shared;
  return tf.add(routed, scaled);
}

/**
 * Embeddings → decoder layers → final norm. Each layer runs in tf.tidy; a MoE layer reads its router
 * logits back with one await, routes on the host, then runs the chosen experts.
 */
export async function runDecoder(dec: Decoder, ids: number[], ctx: ForwardContext = {}): Promise<ForwardResult> {
  const T = ids.length;
  const V = dec.embed.shape[0];
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
  if (bad !== undefined) {
    throw new Error(`token id ${bad} is outside the vocabulary (0..${V - 1})`);
  }
  if (T === 0) {
    throw new Error('cannot run the model on an empty sequence');
  }
  const scaleResidual = (t: tf.Tensor2D): tf.Tensor2D => (dec.residualMultiplier === 1 ? t : tf.mul(t, dec.residualMultiplier));
  const rope = ropeTables(dec.rope, Array.from({ length: T }, (_, t) => t)); // cos/sin [T, rd]
  let h = tf.tidy(() => {
    const e = tf.gather(dec.embed, tf.tensor1d(ids, 'int32')); // [T, D]
    return dec.embeddingMultiplier === 1 ? e : tf.mul(e, dec.embeddingMultiplier);
  }) as tf.Tensor2D;
  const layers: LayerRouting[] = [];
  try {
    for (const [i, layer] of dec.layers.entries()) {
      // wasm/cpu reads resolve as microtasks, so without a macrotask turn an engine process would
      // never see a cancel request or flush progress until the whole window is done.
      await new Promise<void>((resolve) => setImmediate(resolve));
      ctx.signal?.throwIfAborted();
      const ffn = layer.ffn;
      // Attention block and the router linear: [T, D] residual, [T, D] normed, [T, E(+1)] router outputs.
      const [h1, x, routerOut] = tf.tidy(() => {
        const a = layer.attention(rmsNorm(h, layer.inputNorm, dec.rmsNormEps), rope); // [T, D]
        const h1 = tf.add(h, scaleResidual(a)) as tf.Tensor2D; // [T, D]
        const x = rmsNorm(h1, layer.postNorm, dec.rmsNormEps); // [T, D]
        if (ffn.kind === 'dense') {
          return [h1, x];
        }
        const logits = linear(x, ffn.router); // [T, E]
        const gate = ffn.shared?.gate;
        return [h1, x, gate ? tf.concat([logits, linear(x, gate)], 1) : logits]; // [T, E(+1)]
      }) as tf.Tensor2D[];
      h.dispose();
      try {
        if (ffn.kind === 'dense') {
          h = tf.tidy(() => tf.add(h1, scaleResidual(ffn.mlp(x)))) as tf.Tensor2D;
          layers.push({ layer: layer.layer, kind: 'dense', routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null });
        } else {
          const E = ffn.numExperts;
          const width = routerOut.shape[1];
          const data = await routerOut.data(); // the one read-back of this layer
          const logits = toRows(data, T, width, 0, E); // [T][E]
          const sharedWeight = ffn.shared ? (width > E ? toRows(data, T, width, E, 1).map((r) => sigmoid(r[0])) : ids.map(() => 1)) : null;
          const routed = routeLayer({ layer: layer.layer, logits, k: ffn.topK, familyRouter: ffn.route }, ctx.routing);
          h = tf.tidy(() => tf.add(h1, scaleResidual(moeOutput(ffn, x, routed.experts, routed.weights, sharedWeight)))) as tf.Tensor2D;
          layers.push({ layer: layer.layer, kind: 'moe', routerLogits: logits, ...routed, sharedWeight });
        }
      } finally {
        h1.dispose();
        x.dispose();
        routerOut?.dispose();
      }
      ctx.onLayer?.(i + 1, dec.layers.length);
    }
    const hidden = tf.tidy(() => rmsNorm(h, dec.finalNorm, dec.rmsNormEps));
    return { layers, hidden };
  } finally {
    h.dispose();
    rope.cos.dispose();
    rope.sin.dispose();
  }
}

/** LM head on rows [from, to) of the final hidden states: logits [n, V] (divided by logitsScaling). */
export function lmLogits(dec: Decoder, hidden: tf.Tensor2D, from: number, to: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.slice(hidden, [from, 0], [to - from, hidden.shape[1]]); // [n, D]
    const logits = linear(rows, dec.lmHead); // [n, V]
    return dec.logitsScaling === 1 ? logits : tf.div(logits, dec.logitsScaling);
  });
}
