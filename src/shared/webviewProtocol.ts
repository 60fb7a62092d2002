/**
 * @file Every message between the extension host and the two webview panels (Routing, Dashboard),
 * declared once, GitLens-style: the `State` the host pushes, then COMMANDS (webview → host, fire
 * and forget), REQUESTS (webview → host, answered by id) and NOTIFICATIONS (host → webview).
 *
 * Both sides run the `is…` guards below on everything they receive: a webview can be fed anything
 * by a compromised page and the host must never trust it, and the webview must not crash on a
 * message from an older or newer host. The guards are hand-written (no validation library) because
 * the shapes are few and flat; the trace inside a state goes through the one trace validator
 * (traceCheck.ts), a tight loop over up to millions of numbers. What of the trace is sent and
 * what the webview derives is decided in traceCodec.ts.
 */
import { isCounterfactualChoice, isCounterfactualState, type CounterfactualChoice, type CounterfactualState } from './counterfactualView';
import { isColorScheme, type ColorScheme } from './expertPalette';
import type { RoutingTrace } from './trace';
import { isTraceComparison, type TraceComparison } from './traceCompare';
import { traceProblem } from './traceCheck';

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

/**
 * Routing / Dashboard → host: run a counterfactual routing over the document (one engine request
 * per window, with progress); `{kind: 'model'}` goes back to the model's own routing.
 */
export const RunCounterfactualCommand = 'counterfactual/run';
export type RunCounterfactualCommand = Message<typeof RunCounterfactualCommand, { uri: string; choice: CounterfactualChoice }>;

/** Routing / Dashboard → host: stop the running counterfactual (its partial results are dropped). */
export const CancelCounterfactualCommand = 'counterfactual/cancel';
export type CancelCounterfactualCommand = Message<typeof CancelCounterfactualCommand, { uri: string }>;

/** Dashboard → host: the user clicked a token in the Compare view; the host reveals it in side `side`'s editor. */
export const CompareRevealCommand = 'compare/reveal';
export type CompareRevealCommand = Message<typeof CompareRevealCommand, { side: 'a' | 'b'; tokenIndex: number }>;

export type WebviewCommand =
  | ReadyCommand
  | SelectTokenCommand
  | HighlightExpertCommand
  | SelectLayerCommand
  | RunCounterfactualCommand
  | CancelCounterfactualCommand
  | CompareRevealCommand;

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

/** Host → Dashboard: the comparison to show (MoE Lens: Compare With…); null closes the Compare view. */
export const DidChangeCompareNotification = 'compare/didChange';
export type DidChangeCompareNotification = Message<typeof DidChangeCompareNotification, { compare: TraceComparison | null }>;

/** Host → Routing / Dashboard: the document's counterfactuals changed (a result, a run started or ended). */
export const DidChangeCounterfactualNotification = 'counterfactual/didChange';
export type DidChangeCounterfactualNotification = Message<
  typeof DidChangeCounterfactualNotification,
  { uri: string; counterfactual: CounterfactualState }
>;

/** Host → Routing / Dashboard: progress of the running counterfactual (0..1 of all its passes). */
export const DidProgressCounterfactualNotification = 'counterfactual/didProgress';
export type DidProgressCounterfactualNotification = Message<
  typeof DidProgressCounterfactualNotification,
  { uri: string; fraction: number; message: string }
>;

export type HostToWebview =
  | DidChangeCompareNotification
  | DidChangeCounterfactualNotification
  | DidProgressCounterfactualNotification
  | DidChangeStateNotification
  | DidChangeLayerNotification
  | DidChangeTokenSelectionNotification
  | DidChangeExpertHighlightNotification
  | ExportDidSaveNotification;

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
  if (traceProblem(v.trace) !== null) {
    return false;
  }
  const trace = v.trace as RoutingTrace;
  // Token spans must lie inside the text they index into.
  if (typeof v.text === 'string') {
    const n = v.text.length;
    for (const t of trace.tokens) {
      if ((t.start !== null && t.start > n) || (t.end !== null && t.end > n)) {
        return false;
      }
    }
  }
  return v.selectedToken === null || v.selectedToken < trace.tokens.length;
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
    case RunCounterfactualCommand:
      return isString(p.uri, 8192) && isCounterfactualChoice(p.choice);
    case CancelCounterfactualCommand:
      return isString(p.uri, 8192);
    case CompareRevealCommand:
      return (p.side === 'a' || p.side === 'b') && isIndex(p.tokenIndex);
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
    case DidChangeCompareNotification:
      return p.compare === null || isTraceComparison(p.compare);
    case DidChangeTokenSelectionNotification:
      return isString(p.uri) && isNullableIndex(p.tokenIndex);
    case DidChangeExpertHighlightNotification:
      return p.highlight === null || isExpertRef(p.highlight);
    case ExportDidSaveNotification:
      return isIndex(p.id) && typeof p.saved === 'boolean' && isNullableString(p.path) && isNullableString(p.error);
    case DidChangeCounterfactualNotification:
      return isString(p.uri) && isCounterfactualState(p.counterfactual);
    case DidProgressCounterfactualNotification:
      return isString(p.uri) && typeof p.fraction === 'number' && p.fraction >= 0 && p.fraction <= 1 && isString(p.message, 1000);
    default:
      return false;
  }
}
