/**
 * @file Host ↔ engine protocol: every JSON-RPC message between the extension host and the engine
 * process, declared once (the vscode-eslint way) so both sides share method names and types.
 *
 * The engine runs one request at a time; requests carry a cancellation token (`$/cancelRequest`),
 * and long ones report `moeLens/progress` notifications tagged with the caller's `progressId`.
 * Both sides validate what they receive with the `check*` functions at the bottom: the engine its
 * params, the host the results (a bad message is an error, never a crash).
 */
/* eslint-disable @typescript-eslint/no-namespace -- the LSP `namespace X { method; type }` style keeps each message's name and type together */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import { COUNTERFACTUAL_SCHEMA, type CounterfactualDoc } from './counterfactual';
import type { ModelPlanInfo } from './modelPlanText';
import type { TraceModelInfo, TraceToken } from './trace';
import { checkModelInfo as checkTraceModelInfo } from './traceCheck';
import type { PackedTrace } from './tracePacking';

export type BackendPreference = 'auto' | 'node' | 'wasm' | 'cpu';

// ─── Params and results ────────────────────────────────────────────────────────────────────────

export interface LoadModelParams {
  /** Absolute model folder, or null for the embedded default model. */
  path: string | null;
  backend: BackendPreference;
  /**
   * Folders the engine must refuse to load from (the workspace folders of a restricted, untrusted
   * workspace). Checked on the real path, so a symlink does not get around it.
   */
  forbiddenRoots?: string[];
  /** Tag for `moeLens/progress` notifications about this load. */
  progressId?: string;
}

export interface LoadModelResult {
  info: TraceModelInfo;
  /** tf.getBackend() of the engine: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
  maxContext: number;
  loadMs: number;
  /** True when this model was already loaded and nothing was read. */
  cached: boolean;
}

export interface AnalyzeParams {
  /** The document text; token spans in the result are UTF-16 offsets into it. */
  text: string;
  /** moeLens.maxTokensPerWindow as set (0 = the model's context); resolved by resolveWindows. */
  windowSize: number;
  /** moeLens.windowOverlap as set. */
  windowOverlap: number;
  specialTokensInText: 'text' | 'special';
  /**
   * Names the document (the extension sends its URI): the engine keeps what this analysis computed
   * and a later analysis of the same key recomputes only from the first changed token. The result
   * is the same with or without it.
   */
  documentKey?: string;
  progressId?: string;
}

export interface CounterfactualParams {
  /** The document; run as one window (at most the model's context). */
  text: string;
  /** A counterfactual mode as the CLI's --mode takes it (`topk:2@3`, `sweep-k`, …); the engine checks it. */
  mode: string;
  specialTokensInText: 'text' | 'special';
  progressId?: string;
}

export interface CounterfactualResult {
  /** The tokens the passes ran on, with their spans in `text`. */
  tokens: TraceToken[];
  counterfactual: CounterfactualDoc;
}

export interface ReadTraceParams {
  /** Absolute path of a saved `moe-lens.trace/1` JSON file (moe-lens trace / import, Export Routing Trace). */
  path: string;
}

export interface ProgressParams {
  progressId: string;
  /** 0..1 of the whole request. */
  fraction: number;
  message: string;
}

/** Engine → host: the first window of a long document, analysed (PartialTraceNotification). */
export interface PartialTraceParams {
  progressId: string;
  /** A packed trace (tracePacking.ts) of the first window's tokens. */
  trace: unknown;
}

export interface ListModelsParams {
  /** Hub cache folder; omitted = $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub. */
  hubDir?: string;
}

/** One model snapshot found in the local Hugging Face cache. */
export interface CachedModel {
  /** "org/name". */
  repoId: string;
  /** The snapshot folder (what loadModel takes). */
  path: string;
  modelType: string;
  /** Routed experts, or null when config.json names none (a dense model). */
  experts: number | null;
  topK: number | null;
  /** Bytes of the blobs the snapshot's files point to. */
  sizeBytes: number;
  /** True when model weights are safetensors. */
  safetensors: boolean;
  /** The weights MoE Lens reads: a safetensors folder, a GGUF file, or null (none it reads). */
  format: 'safetensors' | 'gguf' | null;
  /** Where it was found: the Hugging Face cache, Ollama's store, LM Studio's models folder. */
  source: 'huggingface' | 'ollama' | 'lmstudio';
}

export interface ListModelsResult {
  hubDir: string;
  /** Ollama's store and LM Studio's models folder, null when there is none. */
  ollamaDir: string | null;
  lmStudioDir: string | null;
  models: CachedModel[];
}

export interface DescribeModelsParams {
  /** Model folders; null = the embedded model. */
  paths: (string | null)[];
  /** Whose heap ceiling the plan respects ('auto' plans for wasm, the stricter). */
  backend: BackendPreference;
  /** As loadModel's: folders inside these are not read, not even their headers. */
  forbiddenRoots?: string[];
}

/** One folder described from config.json and the safetensors headers, under the engine's budget (MOE_LENS_MAX_MEMORY_MB). */
export interface DescribedModel {
  /** As asked. */
  path: string | null;
  /** Null when the folder cannot be described; `error` says why. */
  info: ModelPlanInfo | null;
  error: string | null;
}

export interface DescribeModelsResult {
  models: DescribedModel[];
}

export interface EngineStatus {
  pid: number;
  /** Loaded model folder ("embedded" for the default), or null. */
  model: string | null;
  backend: string | null;
  rssBytes: number;
  heapUsedBytes: number;
}

// ─── Requests (host → engine) ──────────────────────────────────────────────────────────────────

/** Host → engine: load a model (and its tokenizer), unloading the previous one; a no-op when it is already loaded. */
export namespace LoadModelRequest {
  export const method = 'moeLens/loadModel' as const;
  export const type = new RequestType<LoadModelParams, LoadModelResult, void>(method);
}

/**
 * Host → engine: tokenize and route a document with the loaded model; answers the full trace with
 * its matrices packed (traceCodec.ts: JSON numbers would stall the host while parsing).
 */
export namespace AnalyzeRequest {
  export const method = 'moeLens/analyze' as const;
  export const type = new RequestType<AnalyzeParams, PackedTrace, void>(method);
}

/**
 * Host → engine: read and validate a saved trace file (Open Trace File…), answered packed like an
 * analysis. Parsing a trace of hundreds of MB takes seconds; here it does not stall the extension host.
 */
export namespace ReadTraceRequest {
  export const method = 'moeLens/readTrace' as const;
  export const type = new RequestType<ReadTraceParams, PackedTrace, void>(method);
}

/**
 * Host → engine: the loaded model's own pass and a counterfactual one (or a sweep of them) over a
 * document, with progress and cancel. A mode the model cannot run is InvalidParams (-32602).
 */
export namespace CounterfactualRequest {
  export const method = 'moeLens/counterfactual' as const;
  export const type = new RequestType<CounterfactualParams, CounterfactualResult, void>(method);
}

/** Host → engine: scan the local Hugging Face cache for model snapshots (reads config.json only). */
export namespace ListModelsRequest {
  export const method = 'moeLens/listModels' as const;
  export const type = new RequestType<ListModelsParams, ListModelsResult, void>(method);
}

/**
 * Host → engine: family, size and memory plan of model folders from their headers alone (no weight
 * read), as `moe-lens info` prints them; answered at once, not queued behind an analysis.
 */
export namespace DescribeModelsRequest {
  export const method = 'moeLens/describeModels' as const;
  export const type = new RequestType<DescribeModelsParams, DescribeModelsResult, void>(method);
}

/** Host → engine: pid, loaded model and memory, answered at once (not queued behind an analysis). */
export namespace StatusRequest {
  export const method = 'moeLens/status' as const;
  export const type = new RequestType0<EngineStatus, void>(method);
}

/** Host → engine: unload the model and exit the process after answering. */
export namespace ShutdownRequest {
  export const method = 'moeLens/shutdown' as const;
  export const type = new RequestType0<void, void>(method);
}

// ─── Notifications (engine → host) ─────────────────────────────────────────────────────────────

/** Engine → host: progress of the running loadModel/analyze request that carried `progressId`. */
export namespace ProgressNotification {
  export const method = 'moeLens/progress' as const;
  export const type = new NotificationType<ProgressParams>(method);
}

/**
 * Engine → host: while an analyze request that carried `progressId` runs over a document of several
 * windows, the trace of its first window's tokens, so the top of the document can show before the rest.
 */
export namespace PartialTraceNotification {
  export const method = 'moeLens/partialTrace' as const;
  export const type = new NotificationType<PartialTraceParams>(method);
}

/** Engine → host: a line for the extension's output channel (warnings, backend choice). */
export namespace LogNotification {
  export const method = 'moeLens/log' as const;
  export const type = new NotificationType<{ level: 'info' | 'warn' | 'error'; message: string }>(method);
}

// ─── Errors ────────────────────────────────────────────────────────────────────────────────────

/** `ResponseError.code`s the engine answers with (besides JSON-RPC's own -32602 for bad params). */
export const EngineErrorCodes = {
  /** The request was cancelled ($/cancelRequest) before it finished. */
  Cancelled: -32800,
  /** analyze arrived before any successful loadModel. */
  NoModel: 1001,
  /** The model folder could not be loaded; the message says why. */
  LoadFailed: 1002,
  /** The folder lies inside a forbidden (untrusted workspace) root. */
  Forbidden: 1003,
  /** Tokenizing or the forward pass failed. */
  AnalyzeFailed: 1004,
  /** A trace file could not be read, or is not a valid trace; the message says why. */
  BadTrace: 1005,
} as const;

// ─── Validation (both sides) ───────────────────────────────────────────────────────────────────

/** A message that failed validation; the string says which field. */
export class ProtocolError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

const BACKENDS: readonly string[] = ['auto', 'node', 'wasm', 'cpu'];

export function checkLoadModelParams(v: unknown): LoadModelParams {
  if (!isObject(v)) {
    throw new ProtocolError('loadModel: params must be an object');
  }
  if (v.path !== null && (typeof v.path !== 'string' || v.path.length === 0)) {
    throw new ProtocolError('loadModel: path must be a non-empty string or null');
  }
  if (typeof v.backend !== 'string' || !BACKENDS.includes(v.backend)) {
    throw new ProtocolError(`loadModel: backend must be one of ${BACKENDS.join(', ')}`);
  }
  if (v.forbiddenRoots !== undefined && !isStringArray(v.forbiddenRoots)) {
    throw new ProtocolError('loadModel: forbiddenRoots must be an array of strings');
  }
  if (v.progressId !== undefined && typeof v.progressId !== 'string') {
    throw new ProtocolError('loadModel: progressId must be a string');
  }
  return v as unknown as LoadModelParams;
}

export function checkAnalyzeParams(v: unknown): AnalyzeParams {
  if (!isObject(v)) {
    throw new ProtocolError('analyze: params must be an object');
  }
  if (typeof v.text !== 'string') {
    throw new ProtocolError('analyze: text must be a string');
  }
  if (!isNonNegInt(v.windowSize) || !isNonNegInt(v.windowOverlap)) {
    throw new ProtocolError('analyze: windowSize and windowOverlap must be non-negative integers');
  }
  if (v.specialTokensInText !== 'text' && v.specialTokensInText !== 'special') {
    throw new ProtocolError("analyze: specialTokensInText must be 'text' or 'special'");
  }
  if (v.documentKey !== undefined && (typeof v.documentKey !== 'string' || v.documentKey.length === 0)) {
    throw new ProtocolError('analyze: documentKey must be a non-empty string');
  }
  if (v.progressId !== undefined && typeof v.progressId !== 'string') {
    throw new ProtocolError('analyze: progressId must be a string');
  }
  return v as unknown as AnalyzeParams;
}

export function checkReadTraceParams(v: unknown): ReadTraceParams {
  if (!isObject(v) || typeof v.path !== 'string' || v.path.length === 0 || v.path.length > 4096) {
    throw new ProtocolError('readTrace: path must be a non-empty string');
  }
  return v as unknown as ReadTraceParams;
}

export function checkCounterfactualParams(v: unknown): CounterfactualParams {
  if (!isObject(v) || typeof v.text !== 'string' || typeof v.mode !== 'string') {
    throw new ProtocolError('counterfactual: expected {text: string, mode: string, specialTokensInText, progressId?}');
  }
  if (v.specialTokensInText !== 'text' && v.specialTokensInText !== 'special') {
    throw new ProtocolError("counterfactual: specialTokensInText must be 'text' or 'special'");
  }
  if (v.progressId !== undefined && typeof v.progressId !== 'string') {
    throw new ProtocolError('counterfactual: progressId must be a string');
  }
  return v as unknown as CounterfactualParams;
}

/** The result's outline: the schema, and per-token arrays as long as the tokens (a sweep: its rows). */
export function checkCounterfactualResult(v: unknown): CounterfactualResult {
  const doc = isObject(v) ? v.counterfactual : undefined;
  if (!isObject(v) || !Array.isArray(v.tokens) || !isObject(doc) || doc.schema !== COUNTERFACTUAL_SCHEMA || typeof doc.mode !== 'string') {
    throw new ProtocolError(`counterfactual result: expected {tokens[], counterfactual: {schema: '${COUNTERFACTUAL_SCHEMA}', mode, …}}`);
  }
  const T = v.tokens.length;
  const perToken = Array.isArray(doc.kl) && Array.isArray(doc.surprisalDelta) && doc.kl.length === T && doc.surprisalDelta.length === T && Array.isArray(doc.layers);
  if (!perToken && !Array.isArray(doc.passes)) {
    throw new ProtocolError(`counterfactual result: kl and surprisalDelta must have one entry per token (${T}), or passes[] for a sweep`);
  }
  return v as unknown as CounterfactualResult;
}

export function checkListModelsParams(v: unknown): ListModelsParams {
  if (v === undefined || v === null) {
    return {};
  }
  if (!isObject(v) || (v.hubDir !== undefined && typeof v.hubDir !== 'string')) {
    throw new ProtocolError('listModels: params must be {hubDir?: string}');
  }
  return v as ListModelsParams;
}

export function checkDescribeModelsParams(v: unknown): DescribeModelsParams {
  if (!isObject(v) || !Array.isArray(v.paths) || !v.paths.every((p) => p === null || (typeof p === 'string' && p.length > 0))) {
    throw new ProtocolError('describeModels: paths must be an array of non-empty strings or null');
  }
  if (typeof v.backend !== 'string' || !BACKENDS.includes(v.backend)) {
    throw new ProtocolError(`describeModels: backend must be one of ${BACKENDS.join(', ')}`);
  }
  if (v.forbiddenRoots !== undefined && !isStringArray(v.forbiddenRoots)) {
    throw new ProtocolError('describeModels: forbiddenRoots must be an array of strings');
  }
  return v as unknown as DescribeModelsParams;
}

const PLAN_MODES: readonly unknown[] = ['resident', 'streamed', 'refused'];
const PLAN_NUMBERS = ['budgetBytes', 'diskBytes', 'storedBytes', 'totalParams', 'activeParams', 'minimumBytes', 'holdBytes', 'cachedLayers'] as const;

export function checkDescribeModelsResult(v: unknown): DescribeModelsResult {
  if (!isObject(v) || !Array.isArray(v.models)) {
    throw new ProtocolError('describeModels result: expected {models[]}');
  }
  for (const m of v.models as unknown[]) {
    if (!isObject(m) || (m.path !== null && typeof m.path !== 'string') || (m.error !== null && typeof m.error !== 'string')) {
      throw new ProtocolError('describeModels result: each model needs path and error (string or null)');
    }
    if (m.info === null) {
      continue;
    }
    const info = m.info;
    const plan = isObject(info) ? info.plan : undefined;
    if (!isObject(info) || typeof info.modelType !== 'string' || !isNonNegInt(info.numLayers) || !isNonNegInt(info.numExperts) || !isNonNegInt(info.topK) || !isObject(plan)) {
      throw new ProtocolError('describeModels result: info needs modelType, numLayers, numExperts, topK and plan');
    }
    const badNumber = PLAN_NUMBERS.find((k) => typeof plan[k] !== 'number' || !Number.isFinite(plan[k]) || (plan[k] as number) < 0);
    if (!PLAN_MODES.includes(plan.mode) || badNumber !== undefined || !isStringArray(plan.dtypes) || (plan.refusal !== null && typeof plan.refusal !== 'string')) {
      throw new ProtocolError(`describeModels result: plan needs mode, refusal, dtypes and non-negative ${badNumber ?? 'sizes'}`);
    }
  }
  return v as unknown as DescribeModelsResult;
}

export function checkPartialTraceParams(v: unknown): PartialTraceParams {
  if (!isObject(v) || typeof v.progressId !== 'string' || !isObject(v.trace)) {
    throw new ProtocolError('partialTrace: expected {progressId, trace}');
  }
  return v as unknown as PartialTraceParams;
}

export function checkProgressParams(v: unknown): ProgressParams {
  if (
    !isObject(v) ||
    typeof v.progressId !== 'string' ||
    typeof v.fraction !== 'number' ||
    !Number.isFinite(v.fraction) ||
    typeof v.message !== 'string'
  ) {
    throw new ProtocolError('progress: expected {progressId, fraction, message}');
  }
  return v as unknown as ProgressParams;
}

/** Model info through the trace validator's own check, as a protocol error. */
function checkModelInfo(v: unknown, where: string): TraceModelInfo {
  try {
    return checkTraceModelInfo(v);
  } catch (err) {
    throw new ProtocolError(`${where}: ${(err as Error).message.replace(/^trace: /, '')}`);
  }
}

export function checkLoadModelResult(v: unknown): LoadModelResult {
  if (!isObject(v) || typeof v.backend !== 'string' || typeof v.loadMs !== 'number' || typeof v.maxContext !== 'number') {
    throw new ProtocolError('loadModel result: expected {info, backend, maxContext, loadMs, cached}');
  }
  checkModelInfo(v.info, 'loadModel result');
  return v as unknown as LoadModelResult;
}

export function checkListModelsResult(v: unknown): ListModelsResult {
  if (!isObject(v) || typeof v.hubDir !== 'string' || !Array.isArray(v.models)) {
    throw new ProtocolError('listModels result: expected {hubDir, models[]}');
  }
  for (const m of v.models as unknown[]) {
    if (!isObject(m) || typeof m.repoId !== 'string' || typeof m.path !== 'string' || typeof m.modelType !== 'string') {
      throw new ProtocolError('listModels result: each model needs repoId, path and modelType');
    }
  }
  return v as unknown as ListModelsResult;
}

export function checkEngineStatus(v: unknown): EngineStatus {
  if (!isObject(v) || !isNonNegInt(v.pid)) {
    throw new ProtocolError('status: expected {pid, …}');
  }
  return v as unknown as EngineStatus;
}
