/**
 * @file Loading a model folder and running it: config.json → family → weights → a `Model` whose
 * `run(ids)` returns the routing of every layer, the surprisal of each next token and, on request,
 * the logits. Tensors live only inside a run; the weights live until `dispose()`.
 */
import * as path from 'node:path';
import type { LayerRouting, TraceModelInfo } from '../shared/trace';
import { ensureBackend, initBackend, tf, type BackendName } from './backend';
import { openCheckpoint } from './checkpoint/checkpoint';
import { readModelConfig } from './checkpoint/modelFolder';
import { parseQuantization } from './checkpoint/quantConfig';
import { runCounterfactuals, type CounterfactualOptions, type CounterfactualPass, type CounterfactualResult } from './counterfactual';
import { forward, lmLogits, type Decoder } from './forward';
import { assertFitsBackend, assertLayerCount } from './loadPlan';
import { familyFor } from './registry';
import type { RoutingOverride } from './routing';
import { disposeDecoder, loadDecoder } from './weights';

export type { BackendName } from './backend';
export type { RoutingOverride } from './routing';

export interface LoadOptions {
  backend?: BackendName;
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
  run(ids: number[], opts?: RunOptions): Promise<RunResult>;
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

/** LM head in slices of tokens, so a long sequence never holds [T, V] at once unless logits were asked for. */
const HEAD_CHUNK = 256;

async function headOutputs(dec: Decoder, hidden: tf.Tensor2D, ids: number[], withLogits: boolean): Promise<Pick<RunResult, 'surprisal' | 'logits'>> {
  const T = ids.length;
  const surprisal: (number | null)[] = [];
  const logits: number[][] = [];
  for (let from = 0; from < T; from += HEAD_CHUNK) {
    const to = Math.min(T, from + HEAD_CHUNK);
    const chunk = lmLogits(dec, hidden, from, to); // [n, V]
    try {
      const [n, V] = chunk.shape;
      const targets = ids.slice(from + 1, to + 1); // next token of each row; the very last row has none
      const picked = tf.tidy(() => {
        const logp = tf.reshape(tf.logSoftmax(chunk), [n * V]); // [n·V]
        return tf.gather(logp, tf.tensor1d(targets.map((id, j) => j * V + id), 'int32')); // [n']
      });
      const values = await picked.data();
      picked.dispose();
      for (let j = 0; j < n; j++) {
        surprisal.push(j < targets.length ? -values[j] : null);
      }
      if (withLogits) {
        logits.push(...((await chunk.array()) as number[][]));
      }
    } finally {
      chunk.dispose();
    }
  }
  return withLogits ? { surprisal, logits } : { surprisal };
}

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const backend = await initBackend(opts.backend);
  const config = await readModelConfig(dir);
  const family = familyFor(config.model_type);
  const spec = family.parseConfig(config);
  const quant = parseQuantization(config);
  opts.signal?.throwIfAborted();
  // NaN/Inf weights would turn into NaN routing with no hint why; the check rides on the dtype
  // conversion (see checkpoint/dtypes.ts widen) and names the file, tensor and element.
  const ckpt = await openCheckpoint(dir, { checkFinite: true });
  let loaded;
  try {
    // Both from the headers alone, before a byte of weights is read.
    assertFitsBackend(ckpt, backend, spec.tieWordEmbeddings);
    assertLayerCount(ckpt, spec.numLayers, spec.unusedLayers ?? 0);
    // Abort is checked after every tensor read; a failed or aborted load frees what it had made.
    loaded = await loadDecoder(ckpt, family, spec, (f) => {
      opts.signal?.throwIfAborted();
      opts.onProgress?.(f, 'loading weights');
    }, quant);
  } finally {
    await ckpt.close();
  }
  const { decoder } = loaded;
  const name = typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : path.basename(path.resolve(dir));
  const embedded = path.resolve(dir) === defaultModelDir();
  const info: TraceModelInfo = { path: embedded ? 'embedded' : path.resolve(dir), name, ...loaded.info };
  let disposed = false;
  const ready = async (ids: number[]): Promise<void> => {
    if (disposed) {
      throw new Error('model was disposed');
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
    async run(ids, runOpts = {}) {
      await ready(ids);
      const total = decoder.layers.count + 1;
      const { layers, hidden } = await forward(decoder, ids, {
        routing: runOpts.routing,
        signal: runOpts.signal,
        onLayer: (done) => runOpts.onProgress?.(done / total, `layer ${done}/${decoder.layers.count}`),
      });
      try {
        runOpts.signal?.throwIfAborted();
        const head = await headOutputs(decoder, hidden, ids, runOpts.withLogits ?? false);
        runOpts.onProgress?.(1, 'done');
        return { layers, ...head };
      } finally {
        hidden.dispose();
      }
    },
    async counterfactual(ids, passes, cfOpts = {}) {
      await ready(ids);
      return runCounterfactuals(decoder, ids, passes, cfOpts);
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        disposeDecoder(decoder);
      }
    },
  };
}
