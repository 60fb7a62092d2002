/**
 * @file The one validator of a routing trace, run by every reader: the extension host on what the
 * engine sends, the webviews on what the host sends, and `moe-lens analyze` on a saved file. It
 * checks the sizes first (experts, layers, tokens), then every per-token array against them, so no
 * caller allocates from an unchecked count and drawing code can index without further checks.
 * Non-finite numbers that JSON carried as the strings "NaN", "Infinity", "-Infinity" are turned back
 * into numbers in place. A bad trace throws a `TraceError` with one line saying what and where; the
 * message quotes no string from the trace.
 */
import { TRACE_SCHEMA, type GateKind, type RoutingTrace, type TraceModelInfo } from './trace';

/** Upper bounds a trace may state; past them the numbers are not a model's but an attack or a corrupt file. */
export const TRACE_LIMITS = {
  /** Routed experts per layer (the largest released MoE has 384; per-layer E×E tables stay small). */
  experts: 4096,
  layers: 1024,
  tokens: 10_000_000,
  vocab: 10_000_000,
} as const;

const GATES: readonly GateKind[] = ['softmax-renormalized', 'softmax-raw', 'topk-softmax', 'sigmoid-scaled', 'softmax-scaled', 'unknown'];

export class TraceError extends Error {}

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(what: string): never {
  throw new TraceError(`trace: ${what}`);
}

function intIn(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${what} must be an integer in ${min}..${max}${typeof v === 'number' ? `, got ${v}` : ''}`);
  }
  return v;
}

/** A number, or JSON's spelling of a non-finite one (turned back into the number). */
function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') {
    return v;
  }
  return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : undefined;
}

/** Where a problem is, as text built only when there is one (the checks run over millions of numbers). */
type Where = () => string;

/** Checks `row` holds `length` numbers (null allowed where `nullable`), reviving non-finite strings in place. */
function numberRow(row: unknown, length: number | null, nullable: boolean, where: Where): void {
  if (!Array.isArray(row) || (length !== null && row.length !== length)) {
    fail(`${where()} must be an array of ${length ?? 'some'} numbers`);
  }
  for (let i = 0; i < row.length; i++) {
    const x: unknown = row[i];
    if (typeof x === 'number' || (nullable && x === null)) {
      continue;
    }
    const n = toNumber(x);
    if (n === undefined) {
      fail(`${where()}[${i}] is not a number`);
    }
    row[i] = n;
  }
}

function matrix(v: unknown, rows: number, cols: number, what: string): void {
  if (!Array.isArray(v) || v.length !== rows) {
    fail(`${what} must have ${rows} rows`);
  }
  for (let r = 0; r < rows; r++) {
    numberRow(v[r], cols, false, () => `${what}[${r}]`);
  }
}

function optionalMatrix(v: unknown, rows: number, cols: number, what: string): void {
  if (v !== null && v !== undefined) {
    matrix(v, rows, cols, what);
  }
}

/** Model info as a trace and the engine's loadModel result carry it. */
export function checkModelInfo(v: unknown): TraceModelInfo {
  if (!isRecord(v)) {
    fail('model must be an object');
  }
  for (const key of ['path', 'name', 'modelType', 'gateDescription'] as const) {
    if (typeof v[key] !== 'string') {
      fail(`model.${key} must be a string`);
    }
  }
  if (!GATES.includes(v.gate as GateKind)) {
    fail(`model.gate must be one of ${GATES.join(', ')}`);
  }
  const E = intIn(v.numExperts, 1, TRACE_LIMITS.experts, 'model.numExperts');
  intIn(v.topK, 1, E, 'model.topK');
  const L = intIn(v.numLayers, 0, TRACE_LIMITS.layers, 'model.numLayers');
  intIn(v.vocabSize, 0, TRACE_LIMITS.vocab, 'model.vocabSize');
  if (typeof v.hasSharedExpert !== 'boolean') {
    fail('model.hasSharedExpert must be true or false');
  }
  if (!Array.isArray(v.moeLayers) || v.moeLayers.length > L) {
    fail(`model.moeLayers must list at most ${L} layers`);
  }
  v.moeLayers.forEach((x: unknown, i) => intIn(x, 0, TRACE_LIMITS.layers, `model.moeLayers[${i}]`));
  if (v.defaultLayer !== undefined && !v.moeLayers.includes(v.defaultLayer)) {
    fail('model.defaultLayer must be one of model.moeLayers');
  }
  return v as unknown as TraceModelInfo;
}

function checkTokens(tokens: unknown): number {
  if (!Array.isArray(tokens) || tokens.length > TRACE_LIMITS.tokens) {
    fail(`tokens must be an array of at most ${TRACE_LIMITS.tokens} tokens`);
  }
  tokens.forEach((t: unknown, i) => {
    // An imported trace may lack ids (CSV, npy): null, never a made-up number.
    if (!isRecord(t) || (t.id !== null && (typeof t.id !== 'number' || !Number.isSafeInteger(t.id) || t.id < 0))) {
      fail(`token ${i} has no integer id (or null)`);
    }
    if (t.text !== null && typeof t.text !== 'string') {
      fail(`token ${i}: text must be a string or null`);
    }
    const noSpan = t.start === null && t.end === null;
    const span = typeof t.start === 'number' && typeof t.end === 'number' && Number.isSafeInteger(t.start) && Number.isSafeInteger(t.end) && t.start >= 0 && t.end >= t.start;
    if (!noSpan && !span) {
      fail(`token ${i} has a bad span`);
    }
    if (t.partial !== undefined && typeof t.partial !== 'boolean') {
      fail(`token ${i}: partial must be true or false`);
    }
  });
  return tokens.length;
}

function checkLayer(l: unknown, i: number, T: number, E: number): void {
  if (!isRecord(l) || (l.kind !== 'moe' && l.kind !== 'dense')) {
    fail(`layer entry ${i} must be an object with kind 'moe' or 'dense'`);
  }
  const n = intIn(l.layer, 0, TRACE_LIMITS.layers, `layer entry ${i}: layer`);
  const where = `layer ${n}`;
  if (l.kind === 'dense') {
    return;
  }
  const { experts, weights } = l;
  // weights may be null in an imported trace (npy carries experts only).
  if (!Array.isArray(experts) || experts.length !== T || (weights !== null && (!Array.isArray(weights) || weights.length !== T))) {
    fail(`${where}: experts and weights must have ${T} rows`);
  }
  for (let t = 0; t < T; t++) {
    const row: unknown = experts[t];
    if (!Array.isArray(row) || row.length > E) {
      fail(`${where}: experts[${t}] must list at most ${E} experts`);
    }
    for (let j = 0; j < row.length; j++) {
      const e: unknown = row[j];
      if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e >= E) {
        intIn(e, 0, E - 1, `${where}: experts[${t}][${j}]`); // throws, with the message
      }
    }
    if (weights !== null) {
      numberRow(weights[t], row.length, false, () => `${where}: weights[${t}]`);
    }
  }
  optionalMatrix(l.routerLogits, T, E, `${where}: routerLogits`);
  optionalMatrix(l.scores, T, E, `${where}: scores`);
  optionalMatrix(l.selection, T, E, `${where}: selection`);
  if (l.sharedWeight !== null && l.sharedWeight !== undefined) {
    numberRow(l.sharedWeight, T, false, () => `${where}: sharedWeight`);
  }
}

/** The trace, checked (see the file comment); throws a `TraceError` on the first problem. */
export function checkTrace(v: unknown): RoutingTrace {
  if (!isRecord(v) || v.schema !== TRACE_SCHEMA) {
    fail(`schema must be '${TRACE_SCHEMA}'`);
  }
  const model = checkModelInfo(v.model);
  if (typeof v.backend !== 'string') {
    fail('backend must be a string');
  }
  const T = checkTokens(v.tokens);
  const E = model.numExperts;
  numberRow(v.surprisal, T, true, () => 'surprisal');
  if (!Array.isArray(v.layers) || v.layers.length > Math.max(model.numLayers, 1)) {
    fail(`layers must be an array of at most ${model.numLayers} layers`);
  }
  v.layers.forEach((l: unknown, i) => checkLayer(l, i, T, E));
  if (v.windows !== undefined) {
    if (!Array.isArray(v.windows) || v.windows.length > T) {
      fail('windows must be an array of at most one window per token');
    }
    v.windows.forEach((w: unknown, i) => {
      if (!isRecord(w)) {
        fail(`window ${i} must be an object`);
      }
      const start = intIn(w.start, 0, T, `window ${i}: start`);
      const end = intIn(w.end, start, T, `window ${i}: end`);
      intIn(w.overlap, 0, end - start, `window ${i}: overlap`);
    });
  }
  if (v.logits !== undefined) {
    matrix(v.logits, T, model.vocabSize, 'logits');
  }
  if (v.timing !== undefined) {
    if (!isRecord(v.timing)) {
      fail('timing must be an object');
    }
    for (const key of ['tokenizeMs', 'forwardMs', 'totalMs'] as const) {
      const x = toNumber(v.timing[key]);
      if (x === undefined) {
        fail(`timing.${key} must be a number`);
      }
      v.timing[key] = x;
    }
  }
  return v as unknown as RoutingTrace;
}

/** The same check as a predicate with its reason, for guards that answer yes or no. */
export function traceProblem(v: unknown): string | null {
  try {
    checkTrace(v);
    return null;
  } catch (err) {
    if (err instanceof TraceError) {
      return err.message;
    }
    throw err;
  }
}
