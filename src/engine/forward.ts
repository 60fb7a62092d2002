/**
 * @file The forward pass, top to bottom (llama2.c's `forward()`): token ids → embeddings → one
 * `layerStep` per decoder layer (attention, then a dense MLP or the router and its experts) → final
 * norm; head.ts applies the LM head to the result.
 *
 * Shapes: T tokens, D hidden size, E routed experts, V vocabulary. What a family brings is data and
 * closures on the `Decoder`: each layer's attention and FFN, its router (written in the family file),
 * and `hooks` where it departs from the plain residual stream (GraniteMoE's multipliers). Layers are
 * reached through a `LayerProvider`, one at a time and released after use, so a provider that reads
 * layer l's weights only while it runs streams a checkpoint bigger than memory; an MoE layer's experts
 * are loaded after its router has run, only those some token is routed to, a group at a time.
 */
import type { LayerRouting } from '../shared/trace';
import type { KvSlot } from './attention';
import { tf } from './backend';
import { findNonFinite } from './checkpoint/dtypes';
import type { ExpertBank } from './experts';
import type { HeadSlices } from './head';
import { expertUpdate, routedSlots, scatterUpdates, type ExpertSlot } from './moe';
import { linear, rmsNorm, ropeTables, type Linear, type RopeSpec, type RopeTables } from './ops';
import { routeLayer, sigmoid, toRows, type FamilyRouter, type RoutingOverride } from './routing';

// ---------------------------------------------------------------------------------------------
// What a family assembles
// ---------------------------------------------------------------------------------------------

export interface DenseFfn {
  kind: 'dense';
  mlp: (x: tf.Tensor2D) => tf.Tensor2D; // [T, D] → [T, D]
}

export interface MoeFfn {
  kind: 'moe';
  numExperts: number; // E
  topK: number; // k
  router: Linear; // [D, E] (+ [E] bias)
  route: FamilyRouter;
  /** Read when routed to; the bank frees what it holds (not listed in the layer's `owned`). */
  experts: ExpertBank;
  /** A shared expert on every token, scaled by σ(x·gate) when `gate` is given, else by 1. */
  shared: { mlp: (x: tf.Tensor2D) => tf.Tensor2D; gate: Linear | null } | null;
}

export interface DecoderLayer {
  /** The checkpoint's layer number. */
  layer: number;
  inputNorm: tf.Tensor1D; // [D]
  postNorm: tf.Tensor1D; // [D]
  /** [T, D] → [T, D]; with a `KvSlot`, attends to its cached keys/values too and leaves them extended in it. */
  attention: (x: tf.Tensor2D, rope: RopeTables, kv?: KvSlot) => tf.Tensor2D;
  ffn: DenseFfn | MoeFfn;
  /** Tensors this layer owns beyond the norms and the experts' bank (attention and FFN weights), for dispose. */
  owned: tf.Tensor[];
}

/** A family's departures from the plain residual stream; each is the identity when absent. */
export interface DecoderHooks {
  /** Token embeddings [T, D] → the start of the residual stream. */
  embedding?: (e: tf.Tensor2D) => tf.Tensor2D;
  /** A sublayer's output [T, D] (attention or FFN) before it is added to the residual stream. */
  residual?: (branch: tf.Tensor2D) => tf.Tensor2D;
  /** The LM head's logits [n, V]. */
  logits?: (logits: tf.Tensor2D) => tf.Tensor2D;
}

/** Where the forward pass gets layer i's weights. */
export interface LayerProvider {
  readonly count: number;
  get(i: number): Promise<DecoderLayer>;
  /** The forward pass is done with a layer `get` gave it (also after an error or a cancel): a streaming provider frees it. */
  release(layer: DecoderLayer): void;
  /** Frees the weights of every layer it holds. */
  dispose(): void;
}

/** A [rows, cols] matrix read a few rows at a time (the embedding and the LM head at real vocabulary sizes). */
export interface VocabMatrix {
  readonly rows: number; // V
  readonly cols: number; // D
  /** float32 rows [from, from + count), row-major. */
  read(from: number, count: number): Promise<Float32Array>;
}

export interface Decoder {
  embed: VocabMatrix; // [V, D]
  layers: LayerProvider;
  finalNorm: tf.Tensor1D; // [D]
  /** nn.Linear weight [V, D], no bias (the embedding itself when tied), a slice at a time. */
  lmHead: HeadSlices;
  /** Widened float32 bytes of experts loaded at once (at least one expert). */
  expertGroupBytes: number;
  rmsNormEps: number;
  rope: RopeSpec;
  hooks: DecoderHooks;
}

/** A layer's routing as the pass ran it; `dropped` only under a capacity override. */
export type RoutedLayer = LayerRouting & { dropped?: number[][] };

/** The residual stream entering layer index `index` of an earlier pass over the same ids. */
export interface ResumePoint {
  index: number;
  residual: tf.Tensor2D; // [T, D], not disposed by the pass
  /** The routing of layers 0 … index−1 in that pass, reported unchanged. */
  before: RoutedLayer[];
}

export interface ForwardContext {
  routing?: RoutingOverride;
  /**
   * Start at a layer from a kept residual stream instead of the embeddings: a pass that changes only
   * layer L and later computes layers before L exactly as the pass that kept it (counterfactuals).
   */
  resume?: ResumePoint;
  /** Keep a copy of the residual stream entering these layer indices (returned in `residuals`; the caller disposes). */
  keepResiduals?: ReadonlySet<number>;
  /**
   * Incremental: `ids` are positions `offset` … of a window whose earlier positions' keys and values
   * are in `slots[i].past` for layer index i; each slot's `next` is left holding the extended ones
   * (the caller owns them, also after an error).
   */
  kv?: { offset: number; slots: KvSlot[] };
  /** Checked between layers and between expert groups. */
  signal?: AbortSignal;
  /** Called after each layer with (layers done, layers total). */
  onLayer?: (done: number, total: number) => void;
}

export interface ForwardResult {
  layers: RoutedLayer[];
  /** The streams asked for by `keepResiduals`, by layer index. */
  residuals: Map<number, tf.Tensor2D>;
  hidden: tf.Tensor2D; // [T, D] after the final norm: what the LM head sees (caller disposes)
}

// ---------------------------------------------------------------------------------------------
// The pass
// ---------------------------------------------------------------------------------------------

/** The embedding rows of `ids`, gathered on the host ([T·D]): the matrix is never widened whole. */
async function embeddingRows(embed: VocabMatrix, ids: number[]): Promise<Float32Array> {
  const D = embed.cols;
  const out = new Float32Array(ids.length * D);
  const seen = new Map<number, Float32Array>();
  for (const [t, id] of ids.entries()) {
    let row = seen.get(id);
    if (!row) {
      row = await embed.read(id, 1);
      seen.set(id, row);
    }
    out.set(row, t * D);
  }
  return out;
}

/**
 * Embeddings → every decoder layer → final norm. Each layer's tensors are made in tf.tidy; an MoE
 * layer reads its router outputs back with one await, routes on the host, then runs the chosen experts.
 */
export async function forward(dec: Decoder, ids: number[], ctx: ForwardContext = {}): Promise<ForwardResult> {
  const T = ids.length;
  const V = dec.embed.rows;
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
  if (bad !== undefined) {
    throw new Error(`token id ${bad} is outside the vocabulary (0..${V - 1})`);
  }
  if (T === 0) {
    throw new Error('cannot run the model on an empty sequence');
  }
  const resume = ctx.resume;
  if (resume && (resume.residual.shape[0] !== T || resume.before.length !== resume.index)) {
    throw new Error(`forward: the resume point does not fit (${resume.residual.shape[0]} tokens, ${resume.before.length} layers before index ${resume.index})`);
  }
  const rows = resume ? null : await embeddingRows(dec.embed, ids); // [T·D]
  const offset = ctx.kv?.offset ?? 0;
  const rope = ropeTables(dec.rope, Array.from({ length: T }, (_, t) => offset + t)); // cos, sin [T, rd]
  let h = rows
    ? tf.tidy(() => {
        const e = tf.tensor2d(rows, [T, dec.embed.cols]); // [T, D]
        return dec.hooks.embedding ? dec.hooks.embedding(e) : e;
      })
    : tf.clone((resume as ResumePoint).residual); // [T, D], the residual stream
  const layers: RoutedLayer[] = resume ? [...resume.before] : [];
  const residuals = new Map<number, tf.Tensor2D>();
  try {
    for (let i = resume?.index ?? 0; i < dec.layers.count; i++) {
      if (ctx.keepResiduals?.has(i)) {
        residuals.set(i, tf.clone(h));
      }
      // wasm/cpu reads resolve as microtasks, so without a macrotask turn an engine process would
      // never see a cancel request or flush progress until the whole window is done.
      await new Promise<void>((resolve) => setImmediate(resolve));
      ctx.signal?.throwIfAborted();
      const layer = await dec.layers.get(i);
      let step;
      try {
        step = await layerStep(dec, layer, h, rope, ctx, ctx.kv?.slots[i]); // [T, D] → [T, D]
      } finally {
        dec.layers.release(layer);
      }
      h.dispose();
      h = step.h;
      layers.push(step.routing);
      ctx.onLayer?.(i + 1, dec.layers.count);
    }
    ctx.signal?.throwIfAborted();
    const hidden = tf.tidy(() => rmsNorm(h, dec.finalNorm, dec.rmsNormEps)); // [T, D]
    return { layers, hidden, residuals };
  } catch (err) {
    residuals.forEach((r) => r.dispose());
    throw err;
  } finally {
    h.dispose();
    rope.cos.dispose();
    rope.sin.dispose();
  }
}

/**
 * One decoder layer on the residual stream h [T, D] (left for the caller to dispose): pre-norm
 * attention, then pre-norm FFN, each added back. Returns the new stream and the layer's routing.
 */
export async function layerStep(
  dec: Pick<Decoder, 'rmsNormEps' | 'hooks' | 'expertGroupBytes'>,
  layer: DecoderLayer,
  h: tf.Tensor2D, // [T, D]
  rope: RopeTables,
  ctx: Pick<ForwardContext, 'routing' | 'signal'> = {},
  kv?: KvSlot,
): Promise<{ h: tf.Tensor2D; routing: RoutedLayer }> {
  const T = h.shape[0];
  const residual = dec.hooks.residual ?? ((branch: tf.Tensor2D) => branch);
  const ffn = layer.ffn;
  const [h1, x, routerOut] = tf.tidy(() => {
    const a = layer.attention(rmsNorm(h, layer.inputNorm, dec.rmsNormEps), rope, kv); // [T, D]
    if (kv && !kv.next) {
      throw new Error(`layer ${layer.layer}: this family's attention keeps no key/value cache`);
    }
    const h1 = tf.add(h, residual(a)) as tf.Tensor2D; // [T, D]
    const x = rmsNorm(h1, layer.postNorm, dec.rmsNormEps); // [T, D], the FFN's input
    if (ffn.kind === 'dense') {
      return [h1, x];
    }
    const logits = linear(x, ffn.router); // [T, E]
    const gate = ffn.shared?.gate;
    return [h1, x, gate ? tf.concat([logits, linear(x, gate)], 1) : logits]; // [T, E(+1)]: router logits, shared gate
  }) as tf.Tensor2D[];
  try {
    if (ffn.kind === 'dense') {
      const out = tf.tidy(() => tf.add(h1, residual(ffn.mlp(x)))) as tf.Tensor2D; // [T, D]
      return { h: out, routing: { layer: layer.layer, kind: 'dense', routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null } };
    }
    const E = ffn.numExperts;
    const width = routerOut.shape[1]; // E, or E + 1 with a shared-expert gate
    const data = await routerOut.data(); // the one read-back of this layer
    assertFiniteRouter(layer.layer, data as Float32Array, width, E);
    const logits = toRows(data, T, width, 0, E); // [T][E]
    const sharedWeight = ffn.shared ? (width > E ? toRows(data, T, width, E, 1).map((r) => sigmoid(r[0])) : logits.map(() => 1)) : null; // [T]
    const routed = routeLayer({ layer: layer.layer, logits, k: ffn.topK, familyRouter: ffn.route }, ctx.routing); // experts, weights [T][k]
    const slots = routedSlots(routed.experts, routed.weights);
    const updates = await routedUpdates(ffn.experts, x, slots, dec.expertGroupBytes, ctx.signal); // [n_e, D] per expert
    let out: tf.Tensor2D;
    try {
      out = tf.tidy(() => tf.add(h1, residual(moeOutput(ffn, x, scatterUpdates(T, x.shape[1], slots, updates), sharedWeight)))) as tf.Tensor2D; // [T, D]
    } finally {
      tf.dispose(updates);
    }
    return { h: out, routing: { layer: layer.layer, kind: 'moe', routerLogits: logits, ...routed, sharedWeight } };
  } finally {
    h1.dispose();
    x.dispose();
    routerOut?.dispose();
  }
}

/**
 * Each routed expert's weighted output on its tokens, loading the experts a group at a time (at most
 * `groupBytes` of widened weights, at least one expert) and releasing each group before the next.
 * The updates are the same whatever the grouping, so streamed and resident runs agree bit for bit.
 */
async function routedUpdates(bank: ExpertBank, x: tf.Tensor2D, slots: Map<number, ExpertSlot>, groupBytes: number, signal?: AbortSignal): Promise<tf.Tensor2D[]> {
  const perGroup = Math.max(1, Math.floor(groupBytes / Math.max(1, bank.expertBytes)));
  const chosen = [...slots.keys()];
  const updates: tf.Tensor2D[] = [];
  try {
    for (let g = 0; g < chosen.length; g += perGroup) {
      signal?.throwIfAborted();
      const group = chosen.slice(g, g + perGroup);
      const set = await bank.load(group);
      bank.prefetch(chosen.slice(g + perGroup, g + 2 * perGroup)); // read the next group while this one computes
      try {
        for (const e of group) {
          updates.push(tf.tidy(() => expertUpdate(x, e, slots.get(e) as ExpertSlot, set.mlp)));
        }
      } finally {
        set.release();
      }
    }
    return updates;
  } catch (err) {
    tf.dispose(updates);
    throw err;
  }
}

/** The MoE part of a layer once the routed experts have run: their sum (+ shared expert) → [T, D]. */
function moeOutput(ffn: MoeFfn, x: tf.Tensor2D, routed: tf.Tensor2D, sharedWeight: number[] | null): tf.Tensor2D {
  if (!ffn.shared) {
    return routed;
  }
  const shared = ffn.shared.mlp(x); // [T, D]
  const scaled = sharedWeight && ffn.shared.gate ? tf.mul(shared, tf.tensor2d(sharedWeight, [sharedWeight.length, 1])) : shared; // [T, D]
  return tf.add(routed, scaled);
}

/** NaN or ±Inf router outputs would route silently on garbage: stop and say which layer and where. */
function assertFiniteRouter(layer: number, data: Float32Array, width: number, E: number): void {
  const i = findNonFinite(data);
  if (i < 0) {
    return;
  }
  const [t, e] = [Math.floor(i / width), i % width];
  const what = e < E ? `router logit of expert ${e}` : 'shared-expert gate';
  throw new Error(
    `layer ${layer}: the ${what} is ${String(data[i])} at token ${t}; the hidden states overflowed or are NaN ` +
      '(check config.json values such as rms_norm_eps, rope_theta and rope_scaling, and the weights)',
  );
}
