/**
 * @file What the editor does with a model that streams from disk (its memory plan says 'streamed'):
 * an analysis re-reads every layer's weights, so the Analyze command asks once per model, showing
 * the bytes it reads and an estimated time, and live mode and analyze-on-open leave it alone.
 */
import { formatParams, type MemoryMode, type ModelPlanInfo } from '../../shared/modelPlanText';

/** Roughly: BPE tokenizers of these families average about four characters of English a token. */
export const CHARS_PER_TOKEN = 4;

/**
 * Measured with bench/streaming.ts on the OLMoE-1B-7B shape (13.84 GB bf16), 256 tokens, budget
 * 3,072 MB, on a shared 2-core machine: 6.39 GB read and widened in 27 s of stalls and widening
 * (≈ 235 MB/s), and 177 s of compute for 256 tokens × 1.28 B active parameters (≈ 1.85 G
 * parameter-tokens/s). Stored bytes are an upper bound on the reads (only routed experts are read),
 * so the estimate leans long.
 */
export const STREAM_BYTES_PER_SECOND = 235e6;
export const PARAM_TOKENS_PER_SECOND = 1.85e9;

export type StreamTrigger = 'command' | 'live';
export type StreamGate = 'run' | 'confirm' | 'skip';

/** A command asks first (once per model); live mode and analyze-on-open never stream a model. */
export function streamGate(mode: MemoryMode | undefined, trigger: StreamTrigger, confirmed: boolean): StreamGate {
  if (mode !== 'streamed') {
    return 'run';
  }
  if (trigger === 'live') {
    return 'skip';
  }
  return confirmed ? 'run' : 'confirm';
}

export interface StreamEstimate {
  /** Tokens the text is guessed to make (CHARS_PER_TOKEN). */
  tokens: number;
  /** Bytes read from disk at most: the weights the forward pass uses, as stored. */
  bytes: number;
  seconds: number;
}

export function estimateStreamedRun(plan: Pick<ModelPlanInfo['plan'], 'storedBytes' | 'activeParams'>, chars: number): StreamEstimate {
  const tokens = Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
  const seconds = plan.storedBytes / STREAM_BYTES_PER_SECOND + (tokens * plan.activeParams) / PARAM_TOKENS_PER_SECOND;
  return { tokens, bytes: plan.storedBytes, seconds };
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) {
    return `${Math.max(1, Math.round(seconds))} s`;
  }
  if (seconds < 90 * 60) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The modal's message and detail; `timeoutSeconds` (moeLens.requestTimeoutSeconds, 0 = none) is named when the estimate passes it. */
export function confirmText(name: string, info: ModelPlanInfo, est: StreamEstimate, timeoutSeconds = 0): { message: string; detail: string } {
  const mb = (b: number): string => `${Math.ceil(b / 2 ** 20)} MB`;
  const overTimeout =
    timeoutSeconds > 0 && est.seconds > timeoutSeconds
      ? `That is longer than moeLens.requestTimeoutSeconds (${timeoutSeconds} s), after which the engine is stopped: raise it first. `
      : '';
  return {
    message: `Analyse with ${name}? It is streamed from disk: it does not fit the memory budget of ${mb(info.plan.budgetBytes)}.`,
    detail:
      `Each analysis reads up to ${(est.bytes / 1e9).toFixed(2)} GB of weights from disk, layer by layer (again for each window), holding about ${mb(info.plan.holdBytes)}. ` +
      `This document (about ${est.tokens.toLocaleString('en-US')} tokens, ${formatParams(info.plan.activeParams)} active parameters a token) should take about ${formatDuration(est.seconds)} ` +
      `(estimated from rates measured on a 2-core machine: ${STREAM_BYTES_PER_SECOND / 1e6} MB/s read and widen, ${PARAM_TOKENS_PER_SECOND / 1e9} G parameter-tokens/s compute). ` +
      `${overTimeout}\n\n` +
      'Live mode and analyze-on-open stay off for this model; raise moeLens.memoryLimitMb to hold it in memory instead.',
  };
}
