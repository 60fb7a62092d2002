/**
 * @file Two traces side by side for the dashboard's Compare view: two documents, or one document on
 * two models. The per-layer JSD of the expert loads is `diffTraces`'s (traceDiff.ts, one definition);
 * what this adds is the token alignment, so that tokens can be compared when the spans are not
 * identical list for list:
 *   - both traces have spans and both texts are known: the two texts' common head and tail are
 *     unchanged text, so a token lying wholly in the head pairs with the token of the other trace
 *     with the same span, and one in the tail with the same span counted from the end (an edit in
 *     the middle shifts the tail's offsets, not its tokens); tokens in the edited middle are not paired;
 *   - one document (texts equal, or unknown): tokens with the same span pair, so two models with
 *     different tokenizers pair where their tokens coincide;
 *   - no spans on one side (an imported trace): token i pairs with token i, only when both have as many tokens
 *     and the ids agree wherever both traces have them.
 * A pair also needs the same token (id when both have one, else text), and spanless tokens
 * (BOS/EOS) pair only at the very start or end. No vscode, no DOM.
 */
import type { RoutingTrace, TraceToken } from './trace';
import { DiffError, diffTraces } from './traceDiff';

/** One side of a comparison, as the view titles it. */
export interface CompareSide {
  /** `document.uri.toString()` (or a trace file's uri). */
  uri: string;
  /** File name for titles. */
  label: string;
  /** Model name. */
  model: string;
  tokens: number;
}

/** One MoE layer's experts for a token that changed there. */
export interface LayerChange {
  layer: number;
  /** Experts only A chose, and only B chose, ascending. */
  onlyA: number[];
  onlyB: number[];
}

/** A token (paired across the two traces) whose top-k expert set changed in at least one layer. */
export interface ChangedToken {
  /** Token index in A and in B. */
  a: number;
  b: number;
  /** The token's text (A's), or null when the trace has none. */
  text: string | null;
  id: number | null;
  layers: LayerChange[];
}

export interface LayerJsd {
  layer: number;
  /** Jensen–Shannon divergence of the two expert-load distributions, bits. */
  jsd: number;
  /** Paired tokens whose expert set differs in this layer. */
  changedTokens: number;
}

/** What the Compare view draws. */
export interface TraceComparison {
  a: CompareSide;
  b: CompareSide;
  numExperts: number;
  /** Per shared MoE layer (by checkpoint number); empty when `error` says why they cannot be compared. */
  layers: LayerJsd[];
  /** Tokens paired by the alignment (see the file comment). */
  paired: number;
  /** Paired tokens whose expert set changed in some layer, in A's order (at most `maxRows`). */
  changed: ChangedToken[];
  /** Changed tokens left out past `maxRows`. */
  moreChanged: number;
  /** One line about how the two were run or aligned (e.g. one model after the other), or null. */
  note: string | null;
  /** Why the two cannot be compared (different expert counts, no shared layer), or null. */
  error: string | null;
}

const hasSpan = (t: TraceToken): boolean => t.start !== null && t.end !== null;

/** Same token on both sides: the id when both have one, else the text when both have one; else unknown (pairs). */
function sameToken(x: TraceToken, y: TraceToken): boolean {
  if (x.id !== null && y.id !== null) {
    return x.id === y.id;
  }
  if (x.text !== null && y.text !== null) {
    return x.text === y.text;
  }
  return true;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) {
    i++;
  }
  return i;
}

function commonSuffix(a: string, b: string, max: number): number {
  let i = 0;
  while (i < max && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) {
    i++;
  }
  return i;
}

/** Pairs [a, b] of token indices that stand for the same piece of text, ascending in both (see the file comment). */
export function alignTokens(a: readonly TraceToken[], textA: string | null, b: readonly TraceToken[], textB: string | null): [number, number][] {
  const spansA = a.some(hasSpan);
  const spansB = b.some(hasSpan);
  if (!spansA || !spansB) {
    if (a.length !== b.length || !a.every((t, i) => sameToken(t, b[i]!))) {
      return [];
    }
    return a.map((_, i) => [i, i]);
  }
  // Keys: "h:start:end" for a span in the common head, "t:start−len:end−len" for one in the common tail.
  let key: (t: TraceToken, len: number) => string | null;
  if (textA !== null && textB !== null && textA !== textB) {
    const head = commonPrefix(textA, textB);
    const tail = commonSuffix(textA, textB, Math.min(textA.length, textB.length) - head);
    key = (t, len) => (!hasSpan(t) ? null : t.end! <= head ? `h:${t.start}:${t.end}` : t.start! >= len - tail ? `t:${t.start! - len}:${t.end! - len}` : null);
  } else {
    key = (t) => (hasSpan(t) ? `h:${t.start}:${t.end}` : null);
  }
  // Byte-level BPE can split one code point into tokens with the same span: the n-th of them pairs with the n-th.
  const nth = (): ((k: string | null) => string | null) => {
    const seen = new Map<string, number>();
    return (k) => {
      if (k === null) {
        return null;
      }
      const n = seen.get(k) ?? 0;
      seen.set(k, n + 1);
      return `${k}#${n}`;
    };
  };
  const keyB = nth();
  const inB = new Map<string, number>();
  b.forEach((t, j) => {
    const k = keyB(key(t, textB?.length ?? 0));
    if (k !== null) {
      inB.set(k, j);
    }
  });
  const keyA = nth();
  const pairs: [number, number][] = [];
  // BOS: a spanless first token on both sides.
  if (a.length > 0 && b.length > 0 && !hasSpan(a[0]!) && !hasSpan(b[0]!) && sameToken(a[0]!, b[0]!)) {
    pairs.push([0, 0]);
  }
  a.forEach((t, i) => {
    const k = keyA(key(t, textA?.length ?? 0));
    const j = k === null ? undefined : inB.get(k);
    if (j !== undefined && sameToken(t, b[j]!) && (pairs.length === 0 || j > pairs[pairs.length - 1]![1])) {
      pairs.push([i, j]);
    }
  });
  // EOS: a spanless last token on both sides.
  const la = a.length - 1;
  const lb = b.length - 1;
  if (la > 0 && lb > 0 && !hasSpan(a[la]!) && !hasSpan(b[lb]!) && sameToken(a[la]!, b[lb]!) && pairs[pairs.length - 1]?.[1] !== lb) {
    pairs.push([la, lb]);
  }
  return pairs;
}

/** Sorted set difference x \ y. */
function only(x: readonly number[], y: readonly number[]): number[] {
  const s = new Set(y);
  return x.filter((e) => !s.has(e)).sort((p, q) => p - q);
}

/** Per paired token, the layers (of `layers`) whose expert set differs; only tokens with some change. */
export function changedTokens(a: RoutingTrace, b: RoutingTrace, pairs: readonly [number, number][], layers: readonly number[]): ChangedToken[] {
  const moe = (t: RoutingTrace, n: number) => t.layers.find((l) => l.layer === n && l.kind === 'moe')?.experts ?? null;
  const rows = layers.map((n) => ({ n, ea: moe(a, n), eb: moe(b, n) }));
  const out: ChangedToken[] = [];
  for (const [i, j] of pairs) {
    const changes: LayerChange[] = [];
    for (const { n, ea, eb } of rows) {
      if (!ea || !eb) {
        continue;
      }
      const onlyA = only(ea[i]!, eb[j]!);
      const onlyB = only(eb[j]!, ea[i]!);
      if (onlyA.length > 0 || onlyB.length > 0) {
        changes.push({ layer: n, onlyA, onlyB });
      }
    }
    if (changes.length > 0) {
      out.push({ a: i, b: j, text: a.tokens[i]!.text, id: a.tokens[i]!.id, layers: changes });
    }
  }
  return out;
}

export interface CompareInput {
  side: CompareSide;
  trace: RoutingTrace;
  /** The document text the spans index into, or null when not known (a trace opened from a file). */
  text: string | null;
}

/** The comparison the dashboard shows; `maxRows` bounds the changed-token list (the message stays small). */
export function compareTraces(a: CompareInput, b: CompareInput, note: string | null = null, maxRows = 2000): TraceComparison {
  const base = { a: a.side, b: b.side, numExperts: a.trace.model.numExperts, note };
  let diff;
  try {
    diff = diffTraces(a.trace, b.trace);
  } catch (err) {
    if (err instanceof DiffError) {
      return { ...base, layers: [], paired: 0, changed: [], moreChanged: 0, error: err.message };
    }
    throw err;
  }
  const pairs = alignTokens(a.trace.tokens, a.text, b.trace.tokens, b.text);
  const layerNumbers = diff.layers.map((l) => l.layer);
  const changed = changedTokens(a.trace, b.trace, pairs, layerNumbers);
  const perLayer = new Map<number, number>(layerNumbers.map((n) => [n, 0]));
  for (const c of changed) {
    for (const l of c.layers) {
      perLayer.set(l.layer, perLayer.get(l.layer)! + 1);
    }
  }
  return {
    ...base,
    layers: diff.layers.map((l) => ({ layer: l.layer, jsd: l.jsd, changedTokens: perLayer.get(l.layer)! })),
    paired: pairs.length,
    changed: changed.slice(0, maxRows),
    moreChanged: Math.max(0, changed.length - maxRows),
    error: null,
  };
}

// ---- validation (the webview checks what the host sends) ----------------------------------------

/** Most changed-token rows a comparison message may carry. */
export const MAX_COMPARE_ROWS = 100_000;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown, max = 8192): v is string => typeof v === 'string' && v.length <= max;
const isNullableStr = (v: unknown): boolean => v === null || isStr(v);
const experts = (v: unknown, E: number): boolean => Array.isArray(v) && v.length <= E && v.every((e) => isIndex(e) && e < E);

function isSide(v: unknown): v is CompareSide {
  return isRec(v) && isStr(v.uri) && isStr(v.label, 1024) && isStr(v.model, 1024) && isIndex(v.tokens);
}

/** Is this a comparison the Compare view can draw without further checks? */
export function isTraceComparison(v: unknown): v is TraceComparison {
  if (!isRec(v) || !isSide(v.a) || !isSide(v.b) || !isIndex(v.numExperts) || v.numExperts < 1 || v.numExperts > 4096) {
    return false;
  }
  const E = v.numExperts;
  if (!isIndex(v.paired) || !isIndex(v.moreChanged) || !isNullableStr(v.note) || !isNullableStr(v.error)) {
    return false;
  }
  if (!Array.isArray(v.layers) || v.layers.length > 1024 || !v.layers.every((l: unknown) => isRec(l) && isIndex(l.layer) && typeof l.jsd === 'number' && Number.isFinite(l.jsd) && isIndex(l.changedTokens))) {
    return false;
  }
  return (
    Array.isArray(v.changed) &&
    v.changed.length <= MAX_COMPARE_ROWS &&
    v.changed.every(
      (c: unknown) =>
        isRec(c) &&
        isIndex(c.a) &&
        c.a < (v.a as CompareSide).tokens &&
        isIndex(c.b) &&
        c.b < (v.b as CompareSide).tokens &&
        (c.text === null || isStr(c.text, 65536)) &&
        (c.id === null || isIndex(c.id)) &&
        Array.isArray(c.layers) &&
        c.layers.length <= 1024 &&
        c.layers.every((l: unknown) => isRec(l) && isIndex(l.layer) && experts(l.onlyA, E) && experts(l.onlyB, E)),
    )
  );
}
