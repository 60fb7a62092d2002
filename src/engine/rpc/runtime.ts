/**
 * @file What the JSON-RPC server needs from the engine: load a model folder, analyse text with it.
 * The real implementation sits on model.ts/analyze.ts/tokenizer; tests plug in a fake one, so the
 * server's queueing, cancellation and progress logic is tested without weights.
 */
import type { BackendPreference, CounterfactualResult } from '../../shared/engineProtocol';
import type { ModelPlanInfo } from '../../shared/modelPlanText';
import type { RoutingTrace, TraceModelInfo } from '../../shared/trace';

export interface RuntimeProgress {
  onProgress?: (fraction: number, message: string) => void;
  signal?: AbortSignal;
}

export interface AnalyzeOptions extends RuntimeProgress {
  windowSize: number;
  windowOverlap: number;
  specialTokensInText: 'text' | 'special';
  /** Which document this is (AnalyzeParams.documentKey): its last analysis may be reused. */
  documentKey?: string;
  /** A document of several windows: the trace of the first window's tokens, as soon as it is done (analyze.ts). */
  onFirstWindow?: (partial: RoutingTrace) => void | Promise<void>;
}

/** A loaded model plus its tokenizer. */
export interface RuntimeModel {
  readonly info: TraceModelInfo;
  readonly backend: string;
  readonly maxContext: number;
  analyze(text: string, opts: AnalyzeOptions): Promise<RoutingTrace>;
  /** One counterfactual mode over the document (analyze.ts counterfactualIds); absent in fakes that do not need it. */
  counterfactual?(text: string, mode: string, opts: RuntimeProgress & { specialTokensInText: 'text' | 'special' }): Promise<CounterfactualResult>;
  dispose(): void;
}

export interface EngineRuntime {
  /** The embedded model folder, used when loadModel's path is null. */
  defaultModelDir(): string;
  load(dir: string, backend: BackendPreference, opts: RuntimeProgress): Promise<RuntimeModel>;
  /** The folder's family, size and memory plan from its headers alone, under the engine's budget; absent in fakes that do not need it. */
  describe?(dir: string, backend: BackendPreference): Promise<ModelPlanInfo>;
}
