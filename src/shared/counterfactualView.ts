/**
 * @file Counterfactual routing as the panels and the hover see it: the mode a user picks (a typed
 * choice the host turns into the engine's mode text), a single pass laid over the analysed trace's
 * tokens, and the summary rows of a sweep. Plain data with guards, for webviewProtocol.ts.
 */
import type { CounterfactualSummaryRow } from './counterfactual';

/** A mode from the panels' selector; `model` is the model's own routing (no counterfactual). */
export type CounterfactualChoice =
  | { kind: 'model' }
  | { kind: 'topk'; k: number }
  | { kind: 'expert-choice'; factor: number }
  | { kind: 'capacity'; factor: number }
  | { kind: 'dense' }
  | { kind: 'ablate'; layer: number; expert: number }
  | { kind: 'force'; layer: number; expert: number }
  | { kind: 'sweep-k' }
  | { kind: 'ablate-each'; layer: number };

/** Largest capacity factor the selector offers; past E/k·… every expert takes every token anyway. */
export const MAX_CAPACITY_FACTOR = 8;

/** The engine's mode text (counterfactualModes.ts grammar) for a choice; null for the model's own routing. */
export function modeText(c: CounterfactualChoice): string | null {
  switch (c.kind) {
    case 'model':
      return null;
    case 'topk':
      return `topk:${c.k}`;
    case 'expert-choice':
    case 'capacity':
      return `${c.kind}:${c.factor}`;
    case 'dense':
    case 'sweep-k':
      return c.kind;
    case 'ablate':
    case 'force':
      return `${c.kind}:${c.layer}:${c.expert}`;
    case 'ablate-each':
      return `ablate-each:${c.layer}`;
  }
}

/** What a choice is checked against: the analysed model. */
export interface ChoiceModel {
  numExperts: number;
  moeLayers: number[];
}

/** Why this choice cannot run on this model, or null when it can. */
export function choiceProblem(c: CounterfactualChoice, m: ChoiceModel): string | null {
  const layerOk = (l: number): boolean => m.moeLayers.includes(l);
  const expertOk = (e: number): boolean => e < m.numExperts;
  switch (c.kind) {
    case 'topk':
      return c.k >= 1 && c.k <= m.numExperts ? null : `k must be 1…${m.numExperts}`;
    case 'expert-choice':
    case 'capacity':
      return c.factor > 0 && c.factor <= MAX_CAPACITY_FACTOR ? null : `the capacity factor must be in (0, ${MAX_CAPACITY_FACTOR}]`;
    case 'ablate':
    case 'force':
      if (!layerOk(c.layer)) {
        return `layer ${c.layer} is not an MoE layer`;
      }
      return expertOk(c.expert) ? null : `expert ${c.expert} does not exist (0…${m.numExperts - 1})`;
    case 'ablate-each':
      return layerOk(c.layer) ? null : `layer ${c.layer} is not an MoE layer`;
    default:
      return null;
  }
}

/** One MoE layer of a pass, per analysed token; null where no window covered the token. */
export interface OverlayLayer {
  layer: number;
  /** Experts that served token t ([] = none: residual and shared expert only). */
  experts: (number[] | null)[];
  weights: (number[] | null)[];
  /** Capacity only: experts token t chose but lost to a full expert. */
  dropped: (number[] | null)[] | null;
}

/** A single counterfactual pass laid over the analysed trace's tokens (index t = trace token t). */
export interface CounterfactualOverlay {
  choice: CounterfactualChoice;
  /** The engine's mode text. */
  mode: string;
  /** False for expert choice: each expert ranks the whole window. */
  causal: boolean;
  /** KL(model ‖ counterfactual) of the next-token distribution, nats; null where not covered. */
  kl: (number | null)[];
  /** Surprisal of the next token, counterfactual − model, nats; null for a window's last token. */
  surprisalDelta: (number | null)[];
  layers: OverlayLayer[];
  /** How many windows the passes ran over (one request each). */
  windows: number;
}

/** The summary rows of `sweep-k` or `ablate-each:L`, token-weighted over the windows. */
export interface CounterfactualSweep {
  kind: 'sweep-k' | 'ablate-each';
  /** ablate-each: the layer; sweep-k: null. */
  layer: number | null;
  rows: CounterfactualSummaryRow[];
  windows: number;
}

/** A run the host is doing for the panels. */
export interface CounterfactualRunning {
  choice: CounterfactualChoice;
  fraction: number;
  message: string;
}

/** What the panels show of counterfactuals for one document. */
export interface CounterfactualState {
  /** The pass that colours the tokens and feeds the hover; null = the model's own routing. */
  active: CounterfactualOverlay | null;
  kSweep: CounterfactualSweep | null;
  ablateEach: CounterfactualSweep | null;
  running: CounterfactualRunning | null;
  /** The last run's failure or cancellation, in words; null after a success. */
  note: string | null;
}

export const EMPTY_COUNTERFACTUALS: CounterfactualState = { active: null, kSweep: null, ablateEach: null, running: null, note: null };

// ---- guards ----------------------------------------------------------------------------------

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNumberOrNull(v: unknown): boolean {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

function isIndexRows(v: unknown): boolean {
  return Array.isArray(v) && v.every((row) => row === null || (Array.isArray(row) && row.every(isIndex)));
}

function isNumberRows(v: unknown): boolean {
  return Array.isArray(v) && v.every((row) => row === null || (Array.isArray(row) && row.every((x) => typeof x === 'number' && Number.isFinite(x))));
}

function isFactor(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_CAPACITY_FACTOR;
}

/** Shape of a choice (ranges against the model: `choiceProblem`). */
export function isCounterfactualChoice(v: unknown): v is CounterfactualChoice {
  if (!isRecord(v)) {
    return false;
  }
  switch (v.kind) {
    case 'model':
    case 'dense':
    case 'sweep-k':
      return true;
    case 'topk':
      return isIndex(v.k) && v.k >= 1;
    case 'expert-choice':
    case 'capacity':
      return isFactor(v.factor);
    case 'ablate':
    case 'force':
      return isIndex(v.layer) && isIndex(v.expert);
    case 'ablate-each':
      return isIndex(v.layer);
    default:
      return false;
  }
}

function isOverlayLayer(v: unknown, T: number): boolean {
  return (
    isRecord(v) &&
    isIndex(v.layer) &&
    isIndexRows(v.experts) &&
    (v.experts as unknown[]).length === T &&
    isNumberRows(v.weights) &&
    (v.weights as unknown[]).length === T &&
    (v.dropped === null || (isIndexRows(v.dropped) && (v.dropped as unknown[]).length === T))
  );
}

export function isCounterfactualOverlay(v: unknown): v is CounterfactualOverlay {
  if (!isRecord(v) || !isCounterfactualChoice(v.choice) || typeof v.mode !== 'string' || typeof v.causal !== 'boolean' || !isIndex(v.windows)) {
    return false;
  }
  if (!Array.isArray(v.kl) || !Array.isArray(v.surprisalDelta) || v.kl.length !== v.surprisalDelta.length) {
    return false;
  }
  const T = v.kl.length;
  // KL is ≥ 0 by definition; a negative one is a corrupt message, not a colour.
  return v.kl.every((x) => x === null || (typeof x === 'number' && Number.isFinite(x) && x >= 0)) && v.surprisalDelta.every(isNumberOrNull) && Array.isArray(v.layers) && v.layers.every((l) => isOverlayLayer(l, T));
}

function isSummaryRow(v: unknown): boolean {
  return isRecord(v) && typeof v.mode === 'string' && isNumberOrNull(v.meanKl) && v.meanKl !== null && isNumberOrNull(v.maxKl) && v.maxKl !== null && isNumberOrNull(v.meanSurprisalDelta);
}

export function isCounterfactualSweep(v: unknown): v is CounterfactualSweep {
  return isRecord(v) && (v.kind === 'sweep-k' || v.kind === 'ablate-each') && (v.layer === null || isIndex(v.layer)) && isIndex(v.windows) && Array.isArray(v.rows) && v.rows.every(isSummaryRow);
}

export function isCounterfactualState(v: unknown): v is CounterfactualState {
  if (!isRecord(v) || !(v.note === null || typeof v.note === 'string')) {
    return false;
  }
  const running = v.running;
  const runningOk =
    running === null ||
    (isRecord(running) && isCounterfactualChoice(running.choice) && typeof running.fraction === 'number' && running.fraction >= 0 && running.fraction <= 1 && typeof running.message === 'string');
  return (
    runningOk &&
    (v.active === null || isCounterfactualOverlay(v.active)) &&
    (v.kSweep === null || isCounterfactualSweep(v.kSweep)) &&
    (v.ablateEach === null || isCounterfactualSweep(v.ablateEach))
  );
}
