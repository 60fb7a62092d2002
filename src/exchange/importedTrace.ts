/**
 * @file What every importer shares: its one error type, the file read with a size limit, strict
 * number parsing, and the trace built from what a format carries, with null for everything it lacks.
 * An imported trace goes through the one validator (`checkTrace`) before anyone sees it.
 */
import * as path from 'node:path';
import { FileReadError, readRegularFile } from '../engine/files';
import { TRACE_LIMITS, checkTrace } from '../shared/traceCheck';
import { TRACE_SCHEMA, type LayerRouting, type RoutingTrace, type TraceModelInfo, type TraceToken } from '../shared/trace';

export class ImportError extends Error {}

export function importFail(what: string): never {
  throw new ImportError(`import: ${what}`);
}

/** Largest file an import reads (a trace of a long document in float32 is far smaller). */
export const MAX_IMPORT_BYTES = 1 << 30;

/** The whole file, streamed in bounded chunks (src/engine/files.ts): a non-regular or over-limit file is refused. */
export async function readImportFile(file: string, limit = MAX_IMPORT_BYTES): Promise<Buffer> {
  try {
    return await readRegularFile(file, { maxBytes: limit, what: 'the import file' });
  } catch (err) {
    return importFail(err instanceof FileReadError ? err.message : String(err));
  }
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** A decimal number or NaN / Infinity / -Infinity (how the exports write non-finite values); undefined otherwise. */
export function parseNumber(s: string): number | undefined {
  if (s === 'NaN') {
    return NaN;
  }
  if (s === 'Infinity') {
    return Infinity;
  }
  if (s === '-Infinity') {
    return -Infinity;
  }
  return NUMBER.test(s) ? Number(s) : undefined;
}

/** Layer numbers from `--layers 0,2,3` (ascending, distinct), or 0 … L−1. */
export function layerNumbers(given: readonly number[] | undefined, L: number): number[] {
  if (given === undefined) {
    return Array.from({ length: L }, (_, i) => i);
  }
  if (given.length !== L) {
    importFail(`--layers lists ${given.length} layers but the file has ${L} MoE layers`);
  }
  given.forEach((n, i) => {
    if (!Number.isSafeInteger(n) || n < 0 || n > TRACE_LIMITS.layers || (i > 0 && n <= given[i - 1])) {
      importFail(`--layers must be distinct ascending layer numbers in 0..${TRACE_LIMITS.layers}`);
    }
  });
  return [...given];
}

/** Model info for a source that names no model: what its routing shows, and 'unknown' for the rest. */
export function unknownModel(file: string, format: string, moeLayers: number[], numExperts: number, topK: number): TraceModelInfo {
  return {
    path: file,
    name: path.basename(file),
    modelType: 'unknown',
    numLayers: moeLayers.length === 0 ? 0 : moeLayers[moeLayers.length - 1] + 1,
    numExperts,
    topK: Math.max(1, Math.min(topK, numExperts)),
    vocabSize: 0,
    gate: 'unknown',
    gateDescription: `not known: imported from ${format}, which does not say how the model gates`,
    hasSharedExpert: false,
    moeLayers,
  };
}

/** An MoE layer with only what the source carried; the rest null. */
export function importedLayer(layer: number, experts: number[][], weights: number[][] | null): LayerRouting {
  return { layer, kind: 'moe', routerLogits: null, scores: null, experts, weights, sharedWeight: null };
}

/** Tokens with neither ids nor text nor spans, for sources that carry none (npy). */
export function bareTokens(T: number): TraceToken[] {
  return Array.from({ length: T }, () => ({ id: null, text: null, start: null, end: null }));
}

/** The imported trace, validated by the one validator (a problem it finds is an import error). */
export function assembleImported(model: TraceModelInfo, tokens: TraceToken[], layers: LayerRouting[], surprisal?: (number | null)[]): RoutingTrace {
  const trace = { schema: TRACE_SCHEMA, model, backend: 'imported', tokens, layers, surprisal: surprisal ?? tokens.map(() => null) };
  try {
    return checkTrace(trace);
  } catch (err) {
    return importFail(`the imported routing is not a valid trace: ${(err as Error).message}`);
  }
}

/** Number of experts: `--experts N`, or one more than the largest id seen. */
export function expertCount(given: number | undefined, maxSeen: number): number {
  const E = given ?? maxSeen + 1;
  if (!Number.isSafeInteger(E) || E < 1 || E > TRACE_LIMITS.experts) {
    importFail(`the number of experts must be 1..${TRACE_LIMITS.experts}, got ${E}`);
  }
  if (maxSeen >= E) {
    importFail(`expert id ${maxSeen} is out of range for ${E} experts`);
  }
  return E;
}
