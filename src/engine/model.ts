/**
 * @file Loading a model folder and running it: config.json → family → memory plan → weights → a
 * `Model` whose `run(ids)` returns the routing of every layer, the surprisal of each next token and,
 * on request, the logits. The plan (from the headers) decides whether the weights are held at their
 * stored precision (resident) or read layer by layer from disk (streamed); either way a layer is
 * widened to float32 only while it runs, unless the budget lets it stay widened.
 */
import * as path from 'node:path';
import type { LayerRouting, TraceModelInfo } from '../shared/trace';
import { ensureBackend, initBackend, tensorMemoryLimit, weightCopies, type BackendName } from './backend';
import { NonFiniteWeightsError } from './checkpoint/checkpoint';
import { parseQuantization } from './checkpoint/quantConfig';
import { runCounterfactuals, type CounterfactualOptions, type CounterfactualPass, type CounterfactualResult } from './counterfactual';
import type { LoadedFamily } from './family';
import { forward } from './forward';
import { headOutputs } from './head';
import { buildDecoder, disposeDecoder } from './layers';
import { assertLayerCount, layerOf } from './loadPlan';
import { assertRunnable, planModelMemory, type MemoryPlan } from './memoryPlan';
import { openModelSource } from './modelSource';
import { familyFor } from './registry';
import type { RoutingOverride } from './routing';
import { HeldWeights, StreamedWeights, type WeightSource } from './weightSource';
import { runCachedWindow, type CachedRun, type WindowState } from './windowCache';

export type { BackendName } from './backend';
export type { RoutingOverride } from './routing';
export type { MemoryPlan } from './memoryPlan';

export interface LoadOptions {
  backend?: BackendName;
  /** Threads for the wasm backend when it starts in this process (default MOE_LENS_THREADS, else every core). */
  threads?: number;
  /** The memory budget the plan stays within; default three quarters of physical memory. */
  maxMemoryBytes?: number;
  /** Tokens per run the plan sizes activations for (default min(context, 1024)). */
  planTokens?: number;
  onProgress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

export interface RunOptions {
  withLogits?: boolean;
  /** Replace the family's routing for this call (counterfactuals: other k, expert choice, dense, ablation). */
  routing?: RoutingOverride;
  onProgress?: (fraction: number, message: string) => void;
  /** Abort → rejects with the signal's AbortError; every tensor of the run is disposed. */
  signal?: AbortSignal;
}

export interface RunResult {
  layers: LayerRouting[];
  /** −ln p(ids[t+1]) in nats; null for the last token. */
  surprisal: (number | null)[];
  /** [T][V], only with withLogits. */
  logits?: number[][];
}

export interface Model {
  readonly info: TraceModelInfo;
  /** The tfjs backend that runs it: 'tensorflow', 'wasm' or 'cpu'. */
  readonly backend: string;
  /** Longest sequence one run accepts (max_position_embeddings). */
  readonly maxContext: number;
  /** How the weights are held (resident or streamed), sizes and parameter counts, from the headers. */
  readonly plan: MemoryPlan;
  run(ids: number[], opts?: RunOptions): Promise<RunResult>;
  /**
   * `run` of one window reusing what `prev` (a state this model made) holds for the positions
   * before the first changed id (windowCache.ts); absent for streamed models, whose memory budget
   * has no room for keys and values.
   */
  runCached?(ids: number[], prev: WindowState | null, opts?: RunOptions): Promise<CachedRun>;
  /**
   * The model's own pass on one window of ids, then each counterfactual pass (the function an
   * engine request runs: progress, abort, every tensor freed). No windowing: expert choice and
   * capacity count over exactly these tokens.
   */
  counterfactual(ids: number[], passes: CounterfactualPass[], opts?: CounterfactualOptions): Promise<CounterfactualResult[]>;
  dispose(): void;
}

/** The embedded demo model, beside the bundle (dist/ → ../models/demo) or the sources (src/engine → ../../models/demo). */
export function defaultModelDir(): string {
  const fromBundle = path.resolve(__dirname, '..', 'models', 'demo');
  const fromSource = path.resolve(__dirname, '..', '..', 'models', 'demo');
  return path.basename(__dirname) === 'dist' ? fromBundle : fromSource;
}

/**
 * The embedded model's layer to colour by default: its held-out code and prose are routed most differently
 * there (models/demo/MODEL_CARD.md; test/unit/demo/demoSpecialisation.test.ts keeps this true).
 */
export const EMBEDDED_DEFAULT_LAYER = 2;

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const backend = await initBackend(opts.backend, opts.threads);
  // NaN/Inf weights would turn into NaN routing with no hint why; the check rides on the dtype
  // conversion (see checkpoint/dtypes.ts widen) and names the file, tensor and element.
  const model = await openModelSource(dir, { checkFinite: true }); // a folder, or a GGUF file
  const { config } = model;
  let family;
  let spec;
  try {
    family = familyFor(config.model_type);
    spec = family.parseConfig(config);
    opts.signal?.throwIfAborted();
  } catch (err) {
    await model.close();
    throw err;
  }
  const quant = parseQuantization(config);
  const ckpt = await model.openCheckpoint();
  let source: WeightSource | null = null;
  let plan: MemoryPlan;
  let loaded: LoadedFamily;
  try {
    // All from the headers alone, before a byte of weights is read.
    assertLayerCount(ckpt, spec.numLayers, spec.unusedLayers ?? 0);
    plan = planModelMemory(ckpt, spec, { budgetBytes: opts.maxMemoryBytes, tokens: opts.planTokens, heapBytes: tensorMemoryLimit(backend), weightCopies: weightCopies(backend), numLayers: spec.numLayers });
    assertRunnable(plan);
    // Abort is checked after every tensor read and every layer built; a failed or aborted load frees what it had made.
    const progress = (f: number, message: string): void => {
      opts.signal?.throwIfAborted();
      opts.onProgress?.(f, message);
    };
    if (plan.mode === 'resident') {
      const used = ckpt.names().filter((n) => (layerOf(n) ?? 0) < spec.numLayers); // not DeepSeek's unused MTP layers
      source = await HeldWeights.load(ckpt, used, (f) => progress(0.9 * f, 'loading weights'));
    } else {
      source = new StreamedWeights(ckpt);
    }
    loaded = await buildDecoder(source, family, spec, plan, quant, (done, total) => progress(plan.mode === 'resident' ? 0.9 + (0.1 * done) / total : done / total, 'checking layers'));
  } catch (err) {
    await (source ?? ckpt).close();
    throw err;
  }
  const weights = source;
  const { decoder } = loaded;
  const name = typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : path.basename(path.resolve(dir));
  const embedded = path.resolve(dir) === defaultModelDir();
  const info: TraceModelInfo = { path: embedded ? 'embedded' : path.resolve(dir), name, ...loaded.info };
  if (embedded && info.moeLayers.includes(EMBEDDED_DEFAULT_LAYER)) {
    info.defaultLayer = EMBEDDED_DEFAULT_LAYER;
  }
  let disposed = false;
  // A NaN/Inf weight a streamed run met: the file is corrupt, so later runs fail at once instead of streaming up to it again.
  let corrupt: NonFiniteWeightsError | null = null;
  const remember = (err: unknown): never => {
    if (err instanceof NonFiniteWeightsError) {
      corrupt = err;
    }
    throw err;
  };
  const ready = async (ids: number[]): Promise<void> => {
    if (disposed) {
      throw new Error('model was disposed');
    }
    if (corrupt) {
      throw corrupt;
    }
    if (ids.length > loaded.maxContext) {
      throw new Error(`${ids.length} tokens exceed the model's context of ${loaded.maxContext}; split into windows`);
    }
    await ensureBackend(backend); // weights live on the backend they were loaded on
  };
  return {
    info,
    backend,
    maxContext: loaded.maxContext,
    plan,
    async run(ids, runOpts = {}) {
      await ready(ids);
      const total = decoder.layers.count + 1;
      const { layers, hidden } = await forward(decoder, ids, {
        routing: runOpts.routing,
        signal: runOpts.signal,
        onLayer: (done) => runOpts.onProgress?.(done / total, `layer ${done}/${decoder.layers.count}`),
      }).catch(remember);
      try {
        runOpts.signal?.throwIfAborted();
        const head = await headOutputs(decoder, hidden, ids, runOpts.withLogits ?? false, runOpts.signal).catch(remember);
        runOpts.onProgress?.(1, 'done');
        return { layers, ...head };
      } finally {
        hidden.dispose();
      }
    },
    ...(plan.mode === 'resident'
      ? {
          async runCached(ids: number[], prev: WindowState | null, runOpts: RunOptions = {}): Promise<CachedRun> {
            await ready(ids);
            return runCachedWindow(decoder, ids, prev, runOpts);
          },
        }
      : {}),
    async counterfactual(ids, passes, cfOpts = {}) {
      await ready(ids);
      return runCounterfactuals(decoder, ids, passes, cfOpts).catch(remember);
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        disposeDecoder(decoder);
        void weights.close();
      }
    },
  };
}
