/**
 * @file The engine runtime on the real model code (model.ts, analyze.ts, the tokenizer). Until
 * those modules exist this answers every load with a clear error, so the process, protocol and
 * client can be built and tested first.
 */
import type { EngineRuntime } from './runtime';

export function createRealRuntime(log: (level: 'info' | 'warn' | 'error', message: string) => void): EngineRuntime {
  return {
    defaultModelDir: () => 'models/demo',
    load: (dir) => {
      log('error', 'engine core not built yet');
      return Promise.reject(new Error(`The model engine is not part of this build yet; cannot load ${dir}.`));
    },
  };
}
