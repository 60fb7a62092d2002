/**
 * @file The memory budget plan, from the checkpoint headers alone (no weight read): resident when the
 * weights at their stored precision plus one layer's widened working set fit the budget, streamed
 * (layer by layer from disk) when only the working set fits, refused up front, with the minimum it
 * needs, when not even that does. What is left of the budget caches widened layers (resident) or
 * widens more experts at once.
 */
import * as os from 'node:os';
import { formatMb, type PlanFacts } from '../shared/modelPlanText';
import type { Checkpoint } from './checkpoint/checkpoint';
import type { FamilyConfig } from './family';
import { HEAD_ROWS } from './head';
import { isExpertTensor, layerOf, widenedBytesPerElement } from './loadPlan';


/** The plan: what crosses to the extension (PlanFacts) and what the engine alone uses. */
export interface MemoryPlan extends PlanFacts {
  /** The largest layer widened to float32 with one expert at a time, the backend's copies of them, and the transient copies made while reading it. */
  layerBytes: number;
  /** One routed expert widened to float32 (the largest). */
  expertBytes: number;
  /** Tokens the activation estimate is for. */
  tokens: number;
  activationBytes: number;
  /** Node, V8 and the tfjs runtime before any weight. */
  runtimeBytes: number;
  /** Streaming reads ahead, widened in JS memory: the next layer's non-expert tensors and the next expert group. */
  readAheadBytes: number;
  /** Widened layers kept between runs (resident only): the first `cachedLayers`. */
  cacheBytes: number;
  /** Whether the LM head is kept widened too (after every layer, if the rest of the budget allows). */
  headCached: boolean;
  /** Widened expert weights loaded at once. */
  expertGroupBytes: number;
}

export interface PlanOptions {
  budgetBytes?: number;
  tokens?: number;
  /** The backend's ceiling for tensor memory (wasm: 4 GiB), or null. */
  heapBytes: number | null;
  /** Copies of each weight the backend holds while using it (wasm: 2, its matMul packs a copy); default 1. */
  weightCopies?: number;
  /** The layer index beyond which the checkpoint's layers are not run (DeepSeek's MTP layers). */
  numLayers: number;
}

/** Measured RSS of an engine process with the wasm backend initialised and no model (≈ 150 MB), with headroom. */
export const RUNTIME_BYTES = 256 * 2 ** 20;

/** Tokens the default plan sizes activations for (a window of this many runs within the plan). */
export const PLAN_TOKENS = 1024;

export function defaultBudgetBytes(): number {
  return Math.floor((os.totalmem() * 3) / 4);
}

const MB = 2 ** 20;

interface LayerSize {
  /** All its tensors as stored (dropped from memory once the layer is cached widened). */
  stored: number;
  /** Non-expert tensors widened. */
  fixed: number;
  /** The largest non-expert matrix widened: read as stored, then transposed, it exists twice for a moment. */
  largestMatrix: number;
  experts: number;
}

/** A tensor's storage as `info` lists it: the dtype, or the quantisation it is part of. */
function dtypeLabel(ckpt: Checkpoint, name: string): string {
  const info = ckpt.info(name);
  if (widenedBytesPerElement(ckpt, name) !== 4) {
    return 'MXFP4';
  }
  if (name.endsWith('_scale_inv') || (info.dtype === 'F8_E4M3' && ckpt.has(`${name}_scale_inv`))) {
    return 'FP8 (block scales)';
  }
  return info.dtype;
}

/** Activations of one layer for T tokens, float32: residual stream and norms, attention's H [T, T] maps, router, expert rows, LM head slice. */
function activationBytes(cfg: FamilyConfig, T: number, numHeads: number): number {
  const { hiddenSize: D, numExperts: E, topK: k, vocabSize: V, numLayers: L } = cfg;
  const stream = 16 * T * D; // h, h1, x, attention q/k/v/out, the embedding rows
  const attention = 3 * numHeads * T * T; // logits, masked, softmax per head, all held by one tidy
  const experts = 4 * T * k * D + 2 * T * E; // gathered rows, updates, the scatter; router logits
  const head = 2 * T * Math.min(V, HEAD_ROWS) + 3 * Math.min(V, HEAD_ROWS) * D; // logits slice + read-back; rows, tensor, transposed
  const hostTrace = (L * T * E * 16) / 4; // router logits and scores as JS numbers, in float32 units
  return 4 * (stream + attention + experts + head + hostTrace);
}

/** Plans from the headers: mode 'refused' (with the reason) when the budget is below the minimum or one layer cannot fit the backend's heap. */
export function planModelMemory(ckpt: Checkpoint, cfg: FamilyConfig & { numHeads?: number }, opts: PlanOptions): MemoryPlan {
  const budget = opts.budgetBytes ?? defaultBudgetBytes();
  const T = opts.tokens ?? Math.min(cfg.maxPositions, PLAN_TOKENS);
  const layers: LayerSize[] = Array.from({ length: opts.numLayers }, () => ({ stored: 0, fixed: 0, largestMatrix: 0, experts: 0 }));
  let diskBytes = 0;
  let storedBytes = 0;
  let totalParams = 0;
  let expertParams = 0;
  const dtypes = new Set<string>();
  for (const name of ckpt.names()) {
    const info = ckpt.info(name);
    const stored = info.end - info.start;
    diskBytes += stored;
    const layer = layerOf(name);
    if (layer !== null && layer >= opts.numLayers) {
      continue; // not run
    }
    // Values the tensor stands for, widened: an MXFP4 block byte holds two, its scales and FP8 block scales none.
    const perElement = name.endsWith('_scale_inv') ? 0 : widenedBytesPerElement(ckpt, name);
    const widened = info.shape.reduce((a, b) => a * b, 1) * perElement;
    const params = widened / 4;
    storedBytes += stored;
    totalParams += params;
    dtypes.add(dtypeLabel(ckpt, name));
    if (layer === null) {
      continue; // embedding, LM head: read a slice at a time; final norm: tiny
    }
    layers[layer].stored += stored;
    if (isExpertTensor(name)) {
      layers[layer].experts += widened;
      expertParams += params;
    } else {
      layers[layer].fixed += widened;
      if (info.shape.length >= 2) {
        layers[layer].largestMatrix = Math.max(layers[layer].largestMatrix, widened);
      }
    }
  }
  const E = Math.max(1, cfg.numExperts);
  const expertBytes = Math.max(0, ...layers.map((l) => Math.ceil(l.experts / E)));
  const copies = opts.weightCopies ?? 1;
  // The layer's weights and one expert (with the backend's copies of each), plus the transient read-and-transpose copies.
  const working = (l: LayerSize): number => copies * (l.fixed + (l.experts > 0 ? expertBytes : 0)) + l.largestMatrix + (l.experts > 0 ? expertBytes : 0);
  const layerBytes = Math.max(0, ...layers.map(working));
  const activation = activationBytes(cfg, T, cfg.numHeads ?? 32);
  const readAhead = Math.max(0, ...layers.map((l) => l.fixed)) + expertBytes;
  const minimumBytes = RUNTIME_BYTES + layerBytes + readAhead + activation;
  const heapRoom = opts.heapBytes === null ? Infinity : opts.heapBytes - layerBytes - activation;
  let refusal: string | null = null;
  if (heapRoom < 0) {
    refusal =
      `one layer of this model needs about ${formatMb(layerBytes + activation)} of tensors (its weights widened to float32 and the activations of ${T} tokens), ` +
      `more than the ${formatMb(opts.heapBytes ?? 0)} heap of the wasm backend: ` +
      'run it on the cpu backend (--backend cpu, or the moeLens.backend setting) or the node backend (@tensorflow/tfjs-node)';
  } else if (budget < minimumBytes) {
    refusal =
      `this model needs at least ${formatMb(minimumBytes)} to run layer by layer (its largest layer widened to float32 with one expert at a time: ${formatMb(layerBytes)}; ` +
      `reading the next ahead: ${formatMb(readAhead)}; ` +
      `activations for ${T} tokens: ${formatMb(activation)}; runtime: ${formatMb(RUNTIME_BYTES)}), more than the memory budget of ${formatMb(budget)}: ` +
      `raise it to at least ${formatMb(minimumBytes)} (--max-memory ${Math.ceil(minimumBytes / MB)}, or the moeLens.memoryLimitMb setting)`;
  }
  const expertParamsActive = (expertParams * Math.min(cfg.topK, E)) / E;
  const base = {
    refusal,
    budgetBytes: budget,
    diskBytes,
    storedBytes,
    dtypes: [...dtypes].sort(),
    totalParams,
    activeParams: Math.round(totalParams - expertParams + expertParamsActive),
    layerBytes,
    expertBytes,
    readAheadBytes: readAhead,
    tokens: T,
    activationBytes: activation,
    runtimeBytes: RUNTIME_BYTES,
    minimumBytes,
  };
  if (refusal !== null) {
    return { ...base, mode: 'refused', cacheBytes: 0, cachedLayers: 0, headCached: false, expertGroupBytes: 0, holdBytes: minimumBytes };
  }
  // Each expert more in a group costs its widened weights (and the backend's copies), and (streamed) one more read ahead.
  // A group never holds more than a layer's experts, so a small model does not claim the whole spare budget.
  const groupBytes = (spare: number, perExpert: number): number =>
    expertBytes * Math.min(cfg.numExperts, 1 + Math.floor(Math.max(0, Math.min(spare, heapRoom)) / Math.max(1, perExpert)));
  if (budget >= minimumBytes + storedBytes) {
    // Cache whole widened layers, in order, while they fit what is left (and the heap); the rest widens experts in wider groups.
    let spare = Math.min(budget - minimumBytes - storedBytes, heapRoom);
    let cacheBytes = 0;
    let cachedLayers = 0;
    let droppedBytes = 0;
    for (const l of layers) {
      const whole = copies * (l.fixed + l.experts);
      if (whole > spare) {
        break;
      }
      cacheBytes += whole;
      droppedBytes += l.stored;
      spare -= whole;
      cachedLayers++;
    }
    const headBytes = copies * 4 * cfg.vocabSize * cfg.hiddenSize;
    const headCached = cachedLayers === layers.length && headBytes <= spare;
    if (headCached) {
      cacheBytes += headBytes;
      spare -= headBytes;
    }
    const expertGroupBytes = groupBytes(spare, copies * expertBytes);
    const holdBytes = minimumBytes + storedBytes - droppedBytes + cacheBytes + copies * (expertGroupBytes - expertBytes);
    return { ...base, mode: 'resident', cacheBytes, cachedLayers, headCached, expertGroupBytes, holdBytes };
  }
  const expertGroupBytes = groupBytes(budget - minimumBytes, (copies + 1) * expertBytes);
  return { ...base, mode: 'streamed', cacheBytes: 0, cachedLayers: 0, headCached: false, expertGroupBytes, holdBytes: minimumBytes + (copies + 1) * (expertGroupBytes - expertBytes) };
}

/** Throws the plan's refusal, if it has one. */
export function assertRunnable(plan: MemoryPlan): void {
  if (plan.refusal !== null) {
    throw new Error(plan.refusal);
  }
}
