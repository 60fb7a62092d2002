/**
 * @file Every message between the extension host and the two webview panels (Routing, Dashboard),
 * declared once, GitLens-style: the `State` the host pushes, then COMMANDS (webview → host, fire
 * and forget), REQUESTS (webview → host, answered by id) and NOTIFICATIONS (host → webview).
 *
 * Both sides run the `is…` guards below on everything they receive: a webview can be fed anything
 * by a compromised page and the host must never trust it, and the webview must not crash on a
 * message from an older or newer host. The guards are hand-written (no validation library) because
 * the shapes are few and flat, and the trace check has to be a tight loop over up to millions of
 * numbers, which generic schema libraries make several times slower and the bundle larger.
 */
import { isColorScheme, type ColorScheme } from './expertPalette';
import { softmax } from './routingStats';
import type { RoutingTrace } from './trace';

/** Which panel a message or a saved state belongs to. */
export type WebviewId = 'routing' | 'dashboard';

/** An expert picked for highlighting in one layer. */
export interface ExpertRef {
  /** Checkpoint layer number. */
  layer: number;
  /** Routed expert index. */
  expert: number;
}

/** Everything a panel needs to draw, pushed whole by the host when the analysis changes. */
export interface State {
  /** Which panel this state is for. */
  webviewId: WebviewId;
  /** `document.uri.toString()` of the analysed document, or null before any analysis. */
  uri: string | null;
  /** Short name of the document for titles (file name). */
  label: string | null;
  /** The exact analysed text; token spans index into it (UTF-16 code units). */
  text: string | null;
  /** The routing trace, or null before any analysis. */
  trace: RoutingTrace | null;
  /** Selected checkpoint layer number. */
  layer: number | null;
  /** Selected token index into `trace.tokens`, or null. */
  selectedToken: number | null;
  /** Highlighted expert, or null. */
  highlight: ExpertRef | null;
  /** The user's `moeLens.colorScheme`, so the panels colour experts exactly as the editor does. */
  colorScheme: ColorScheme;
}

/** What a webview keeps with `setState` so it comes back the same after a reload (no trace: too big). */
export interface PersistedState {
  /** Which panel saved it. */
  webviewId: WebviewId;
  /** Document the panel was showing. */
  uri: string | null;
  /** Selected layer. */
  layer: number | null;
  /** Selected token. */
  selectedToken: number | null;
  /** Vertical scroll offset of the main view, in CSS pixels. */
  scrollTop: number;
  /** Dashboard: the two layers compared in the transition chart. */
  transitionLayers: [number, number] | null;
}

/** Every message has a `noun/verb` method and typed params. */
export interface Message<M extends string, P> {
  method: M;
  params: P;
}

// COMMANDS (webview → host, no answer)

/** Routing / Dashboard → host: the webview has loaded and wants the current state. */
export const ReadyCommand = 'webview/ready';
export type ReadyCommand = Message<typeof ReadyCommand, { webviewId: WebviewId }>;

/** Routing / Dashboard → host: the user clicked a token; the host selects it in the store (and the editor reveals it). */
export const SelectTokenCommand = 'token/select';
export type SelectTokenCommand = Message<typeof SelectTokenCommand, { uri: string; tokenIndex: number }>;

/** Routing / Dashboard → host: the user clicked an expert (expert null clears the highlight). */
export const HighlightExpertCommand = 'expert/highlight';
export type HighlightExpertCommand = Message<typeof HighlightExpertCommand, { layer: number; expert: number | null }>;

/** Routing / Dashboard → host: the user picked a layer. */
export const SelectLayerCommand = 'layer/select';
export type SelectLayerCommand = Message<typeof SelectLayerCommand, { layer: number }>;

export type WebviewCommand = ReadyCommand | SelectTokenCommand | HighlightExpertCommand | SelectLayerCommand;

// REQUESTS (webview → host, answered by `ExportDidSaveNotification` with the same id)

export type ExportFormat = 'png' | 'svg' | 'csv';

/**
 * Routing / Dashboard → host: save a chart or its data. Downloads do not work inside a webview,
 * so the host shows a save dialog and writes the file. PNG data is base64 (no data: prefix).
 */
export const SaveExportRequest = 'export/save';
export type SaveExportRequest = Message<
  typeof SaveExportRequest,
  { id: number; fileName: string; format: ExportFormat; data: string }
>;

export type WebviewRequest = SaveExportRequest;
export type WebviewToHost = WebviewCommand | WebviewRequest;

// NOTIFICATIONS (host → webview)

/** Host → Routing / Dashboard: the whole state changed (new analysis, or the panel just loaded). */
export const DidChangeStateNotification = 'state/didChange';
export type DidChangeStateNotification = Message<typeof DidChangeStateNotification, { state: State }>;

/** Host → Routing / Dashboard: the selected layer changed elsewhere. */
export const DidChangeLayerNotification = 'layer/didChange';
export type DidChangeLayerNotification = Message<typeof DidChangeLayerNotification, { layer: number }>;

/** Host → Routing / Dashboard: a token was selected elsewhere (editor or the other panel). */
export const DidChangeTokenSelectionNotification = 'token/didChange';
export type DidChangeTokenSelectionNotification = Message<
  typeof DidChangeTokenSelectionNotification,
  { uri: string; tokenIndex: number | null }
>;

/** Host → Routing / Dashboard: the highlighted expert changed (null clears). */
export const DidChangeExpertHighlightNotification = 'expert/didChange';
export type DidChangeExpertHighlightNotification = Message<
  typeof DidChangeExpertHighlightNotification,
  { highlight: ExpertRef | null }
>;

/** Host → Routing / Dashboard: the answer to a `SaveExportRequest`. */
export const ExportDidSaveNotification = 'export/didSave';
export type ExportDidSaveNotification = Message<
  typeof ExportDidSaveNotification,
  { id: number; saved: boolean; path: string | null; error: string | null }
>;

export type HostToWebview =
  | DidChangeStateNotification
  | DidChangeLayerNotification
  | DidChangeTokenSelectionNotification
  | DidChangeExpertHighlightNotification
  | ExportDidSaveNotification;

// WIRE FORM OF THE TRACE

/** Gates whose scores are softmax(router logits): the scores need not travel. */
const SOFTMAX_GATES: ReadonlySet<string> = new Set(['softmax-renormalized', 'softmax-raw', 'softmax-scaled']);

/**
 * Host side: the trace as a panel receives it. The LM-head logits ([T][V]) are dropped (no panel
 * draws them), and so are the scores where they are softmax(router logits): that halves the
 * message, whose delivery (serialise, copy, deserialise) is most of a large document's first render.
 */
export function slimTrace(trace: RoutingTrace): RoutingTrace {
  const derivable = SOFTMAX_GATES.has(trace.model.gate);
  const slim: RoutingTrace = {
    ...trace,
    layers: trace.layers.map((l) => (derivable && l.routerLogits ? { ...l, scores: null } : l)),
  };
  delete slim.logits;
  return slim;
}

/** Webview side, after validation: puts back the scores `slimTrace` left out (in place). */
export function restoreScores(trace: RoutingTrace): RoutingTrace {
  if (SOFTMAX_GATES.has(trace.model.gate)) {
    for (const l of trace.layers) {
      if (l.scores === null && l.routerLogits) {
        l.scores = l.routerLogits.map((row) => softmax(row));
      }
    }
  }
  return trace;
}

/** One token's scores in one layer, recomputed from the logits when `slimTrace` left them out. */
export function scoresRow(trace: RoutingTrace, l: RoutingTrace['layers'][number], t: number): number[] | null {
  const row = l.scores?.[t];
  if (row) {
    return row;
  }
  const logits = l.routerLogits?.[t];
  return logits && SOFTMAX_GATES.has(trace.model.gate) ? softmax(logits) : null;
}

// VALIDATION (both sides)

/** Longest accepted export payload (characters), so a runaway page cannot fill the disk or memory. */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Non-negative safe integer (indices, layer numbers, ids). */
function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNullableIndex(v: unknown): v is number | null {
  return v === null || isIndex(v);
}

function isString(v: unknown, max = Number.MAX_SAFE_INTEGER): v is string {
  return typeof v === 'string' && v.length <= max;
}

function isNullableString(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

function isWebviewId(v: unknown): v is WebviewId {
  return v === 'routing' || v === 'dashboard';
}

function hasMethod(v: unknown): v is { method: string; params: Rec } {
  return isRecord(v) && typeof v.method === 'string' && isRecord(v.params);
}

export function isExpertRef(v: unknown): v is ExpertRef {
  return isRecord(v) && isIndex(v.layer) && isIndex(v.expert);
}

/** A [rows][cols] matrix of numbers (any number: NaN/Infinity pass, structured clone keeps them). */
function isMatrix(v: unknown, rows: number, cols: number | null, ints: boolean, maxInt = 0): boolean {
  if (!Array.isArray(v) || v.length !== rows) {
    return false;
  }
  for (let r = 0; r < rows; r++) {
    const row: unknown = v[r];
    if (!Array.isArray(row) || (cols !== null && row.length !== cols)) {
      return false;
    }
    for (let c = 0; c < row.length; c++) {
      const x: unknown = row[c];
      if (typeof x !== 'number' || (ints && !(Number.isInteger(x) && x >= 0 && x < maxInt))) {
        return false;
      }
    }
  }
  return true;
}

function isNumberArray(v: unknown, length: number, allowNull: boolean): boolean {
  if (!Array.isArray(v) || v.length !== length) {
    return false;
  }
  for (const x of v) {
    if (!(typeof x === 'number' || (allowNull && x === null))) {
      return false;
    }
  }
  return true;
}

/**
 * Structural check of a routing trace, with every per-token array sized to the token count and
 * every expert id in range, so drawing code can index without further checks.
 */
export function isRoutingTrace(v: unknown): v is RoutingTrace {
  if (!isRecord(v) || v.schema !== 'moe-lens.trace/1' || !isRecord(v.model) || !Array.isArray(v.tokens)) {
    return false;
  }
  const m = v.model;
  if (
    !isIndex(m.numExperts) ||
    m.numExperts < 1 ||
    !isIndex(m.topK) ||
    m.topK < 1 ||
    !isIndex(m.numLayers) ||
    !isString(m.name) ||
    !isString(m.gate) ||
    !isString(m.gateDescription) ||
    typeof m.hasSharedExpert !== 'boolean' ||
    !Array.isArray(m.moeLayers) ||
    !m.moeLayers.every(isIndex)
  ) {
    return false;
  }
  const E = m.numExperts;
  const T = v.tokens.length;
  for (const t of v.tokens as unknown[]) {
    if (!isRecord(t) || !isIndex(t.id) || !isNullableString(t.text) || !isNullableIndex(t.start) || !isNullableIndex(t.end)) {
      return false;
    }
    if (t.start !== null && t.end !== null && (t.end as number) < (t.start as number)) {
      return false;
    }
  }
  if (!Array.isArray(v.layers) || !isNumberArray(v.surprisal, T, true)) {
    return false;
  }
  for (const l of v.layers as unknown[]) {
    if (!isRecord(l) || !isIndex(l.layer) || (l.kind !== 'moe' && l.kind !== 'dense')) {
      return false;
    }
    if (l.kind === 'dense') {
      continue;
    }
    if (!isMatrix(l.experts, T, null, true, E)) {
      return false;
    }
    const experts = l.experts as number[][];
    if (!Array.isArray(l.weights) || l.weights.length !== T) {
      return false;
    }
    for (let t = 0; t < T; t++) {
      if (!isNumberArray((l.weights as unknown[])[t], experts[t]!.length, false)) {
        return false;
      }
    }
    if (l.routerLogits !== null && !isMatrix(l.routerLogits, T, E, false)) {
      return false;
    }
    if (l.scores !== null && !isMatrix(l.scores, T, E, false)) {
      return false;
    }
    if (l.sharedWeight !== null && !isNumberArray(l.sharedWeight, T, false)) {
      return false;
    }
  }
  if (v.windows !== undefined) {
    if (!Array.isArray(v.windows)) {
      return false;
    }
    for (const w of v.windows as unknown[]) {
      if (!isRecord(w) || !isIndex(w.start) || !isIndex(w.end) || !isIndex(w.overlap) || (w.end as number) > T) {
        return false;
      }
    }
  }
  return true;
}

export function isState(v: unknown): v is State {
  if (!isRecord(v) || !isWebviewId(v.webviewId) || !isNullableString(v.uri) || !isNullableString(v.label)) {
    return false;
  }
  if (!isNullableString(v.text) || !isNullableIndex(v.layer) || !isNullableIndex(v.selectedToken)) {
    return false;
  }
  if (!(v.highlight === null || isExpertRef(v.highlight)) || !isColorScheme(v.colorScheme)) {
    return false;
  }
  if (v.trace === null) {
    return true;
  }
  if (!isRoutingTrace(v.trace)) {
    return false;
  }
  // Token spans must lie inside the text they index into.
  if (typeof v.text === 'string') {
    const n = v.text.length;
    for (const t of v.trace.tokens) {
      if ((t.start !== null && t.start > n) || (t.end !== null && t.end > n)) {
        return false;
      }
    }
  }
  return v.selectedToken === null || v.selectedToken < v.trace.tokens.length;
}

export function isPersistedState(v: unknown): v is PersistedState {
  return (
    isRecord(v) &&
    isWebviewId(v.webviewId) &&
    isNullableString(v.uri) &&
    isNullableIndex(v.layer) &&
    isNullableIndex(v.selectedToken) &&
    typeof v.scrollTop === 'number' &&
    Number.isFinite(v.scrollTop) &&
    (v.transitionLayers === null ||
      (Array.isArray(v.transitionLayers) && v.transitionLayers.length === 2 && v.transitionLayers.every(isIndex)))
  );
}

/** Host side: is this a message a webview may send? */
export function isWebviewToHost(v: unknown): v is WebviewToHost {
  if (!hasMethod(v)) {
    return false;
  }
  const p = v.params;
  switch (v.method) {
    case ReadyCommand:
      return isWebviewId(p.webviewId);
    case SelectTokenCommand:
      return isString(p.uri, 8192) && isIndex(p.tokenIndex);
    case HighlightExpertCommand:
      return isIndex(p.layer) && isNullableIndex(p.expert);
    case SelectLayerCommand:
      return isIndex(p.layer);
    case SaveExportRequest:
      return (
        isIndex(p.id) &&
        isString(p.fileName, 255) &&
        /^[\w. -]+$/.test(p.fileName) &&
        (p.format === 'png' || p.format === 'svg' || p.format === 'csv') &&
        isString(p.data, MAX_EXPORT_CHARS)
      );
    default:
      return false;
  }
}

/** Webview side: is this a message the host may send? */
export function isHostToWebview(v: unknown): v is HostToWebview {
  if (!hasMethod(v)) {
    return false;
  }
  const p = v.params;
  switch (v.method) {
    case DidChangeStateNotification:
      return isState(p.state);
    case DidChangeLayerNotification:
      return isIndex(p.layer);
    case DidChangeTokenSelectionNotification:
      return isString(p.uri) && isNullableIndex(p.tokenIndex);
    case DidChangeExpertHighlightNotification:
      return p.highlight === null || isExpertRef(p.highlight);
    case ExportDidSaveNotification:
      return isIndex(p.id) && typeof p.saved === 'boolean' && isNullableString(p.path) && isNullableString(p.error);
    default:
      return false;
  }
}
