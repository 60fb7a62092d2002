/**
 * @file The engine runtime on the real model code: loadModel (model.ts), loadTokenizer and
 * traceText (analyze.ts). The model and its tokenizer are loaded and disposed together.
 */
import * as path from 'node:path';
import { binaryReason } from '../../shared/binaryText';
import { AnalysisCache } from '../analysisCache';
import { counterfactualIds, traceText } from '../analyze';
import { defaultModelDir, loadModel, type Model } from '../model';
import { summarizeModel } from '../modelSummary';
import { loadTokenizer } from '../tokenizer/tokenizer';
import type { EngineRuntime, RuntimeModel } from './runtime';
import type { RoutingTrace } from '../../shared/trace';

/**
 * The memory budget the engine process plans loads within: MOE_LENS_MAX_MEMORY_MB when its parent
 * sets it (the extension's moeLens.memoryLimitMb), else the engine's default.
 */
export function budgetFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const mb = Number(env.MOE_LENS_MAX_MEMORY_MB);
  return Number.isFinite(mb) && mb > 0 ? mb * 2 ** 20 : undefined;
}

export function createRealRuntime(log: (level: 'info' | 'warn' | 'error', message: string) => void): EngineRuntime {
  return {
    defaultModelDir,
    async describe(dir, backend) {
      const s = await summarizeModel(dir, { maxMemoryBytes: budgetFromEnv(), backend: backend === 'auto' ? undefined : backend });
      const p = s.plan;
      const plan = {
        mode: p.mode, refusal: p.refusal, budgetBytes: p.budgetBytes, diskBytes: p.diskBytes, storedBytes: p.storedBytes, dtypes: p.dtypes,
        totalParams: p.totalParams, activeParams: p.activeParams, minimumBytes: p.minimumBytes, holdBytes: p.holdBytes, cachedLayers: p.cachedLayers,
      };
      return { path: s.path, modelType: s.modelType, numLayers: s.numLayers, numExperts: s.numExperts, topK: s.topK, plan };
    },
    async load(dir, backend, opts): Promise<RuntimeModel> {
      const tokenizer = await loadTokenizer(dir, { signal: opts.signal });
      let model;
      try {
        opts.signal?.throwIfAborted();
        model = await loadModel(dir, { backend: backend === 'auto' ? undefined : backend, maxMemoryBytes: budgetFromEnv(), signal: opts.signal, onProgress: opts.onProgress });
      } catch (err) {
        tokenizer.dispose();
        throw err;
      }
      const embedded = path.resolve(dir) === path.resolve(defaultModelDir());
      const info = embedded ? { ...model.info, path: 'embedded' } : model.info;
      log('info', `loaded ${info.name} (${info.modelType}, ${info.numExperts} experts, k=${info.topK}) on ${model.backend}`);
      const inner = model;
      // On the wasm/cpu backends every await of the forward pass resolves as a microtask, so the
      // IPC channel (cancel requests, progress) is only served when something yields to the event
      // loop: yield before each window at least.
      const runCached = inner.runCached?.bind(inner);
      const loaded: Model = {
        info: inner.info,
        backend: inner.backend,
        maxContext: inner.maxContext,
        plan: inner.plan,
        async run(ids, runOpts) {
          await new Promise((resolve) => setImmediate(resolve));
          runOpts?.signal?.throwIfAborted();
          return inner.run(ids, runOpts);
        },
        ...(runCached
          ? {
              async runCached(ids: number[], prev: Parameters<typeof runCached>[1], runOpts?: Parameters<typeof runCached>[2]) {
                await new Promise((resolve) => setImmediate(resolve));
                runOpts?.signal?.throwIfAborted();
                return runCached(ids, prev, runOpts);
              },
            }
          : {}),
        async counterfactual(ids, passes, cfOpts) {
          await new Promise((resolve) => setImmediate(resolve));
          cfOpts?.signal?.throwIfAborted();
          return inner.counterfactual(ids, passes, cfOpts);
        },
        dispose: () => inner.dispose(),
      };
      // What the last analysis of each document left, for live re-analysis; dropped with the model.
      const cache = new AnalysisCache();
      return {
        info,
        backend: loaded.backend,
        maxContext: loaded.maxContext,
        async analyze(text, o) {
          const binary = binaryReason(text);
          if (binary !== null) {
            throw new Error(`Not analysing this document: ${binary}.`);
          }
          const trace = await traceText(loaded, tokenizer, text, {
            // As set: resolveWindows (via traceText) decides with the model's context.
            maxTokensPerWindow: o.windowSize,
            windowOverlap: o.windowOverlap,
            encode: { specialTokensInText: o.specialTokensInText, signal: o.signal },
            signal: o.signal,
            onProgress: o.onProgress,
            ...(o.documentKey !== undefined ? { cache: { store: cache, key: o.documentKey } } : {}),
            ...(o.onFirstWindow ? { onFirstWindow: (partial: RoutingTrace) => o.onFirstWindow?.({ ...partial, model: info }) } : {}),
          });
          return { ...trace, model: info };
        },
        async counterfactual(text, mode, o) {
          const binary = binaryReason(text);
          if (binary !== null) {
            throw new Error(`Not analysing this document: ${binary}.`);
          }
          const tokens = await tokenizer.encode(text, { specialTokensInText: o.specialTokensInText, signal: o.signal });
          if (tokens.length === 0) {
            throw new Error('the text produced no tokens');
          }
          const doc = await counterfactualIds(
            loaded,
            tokens.map((t) => t.id),
            mode,
            { signal: o.signal, onProgress: o.onProgress },
          );
          return { tokens, counterfactual: doc };
        },
        dispose() {
          cache.clear();
          loaded.dispose();
          tokenizer.dispose();
        },
      };
    },
  };
}
