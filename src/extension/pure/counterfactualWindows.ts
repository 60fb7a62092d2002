/**
 * @file The engine runs a counterfactual on one window of text; the panels show the analysed trace,
 * which may be several overlapping windows. This cuts the analysed text into the trace's windows,
 * lays each window's per-token results back onto the trace's tokens by their spans, and combines
 * sweep rows over the windows. No vscode: unit-tested directly.
 */
import type { CounterfactualPassDoc, CounterfactualSummaryRow, CounterfactualSweepDoc } from '../../shared/counterfactual';
import type { CounterfactualChoice, CounterfactualOverlay, CounterfactualSweep, OverlayLayer } from '../../shared/counterfactualView';
import type { RoutingTrace, TraceToken } from '../../shared/trace';

/** One window to send: its text and where that text starts in the analysed document. */
export interface WindowSlice {
  /** Trace token range [start, end). */
  start: number;
  end: number;
  text: string;
  /** Offset of `text` in the analysed text (engine spans + offset = document spans). */
  offset: number;
}

/** The windows the analysis used, as texts to re-run; one slice (the whole text) when it used one. */
export function windowSlices(trace: RoutingTrace, text: string): WindowSlice[] {
  const T = trace.tokens.length;
  const windows = trace.windows && trace.windows.length > 1 ? trace.windows : null;
  if (!windows) {
    // The very text that was analysed, so the engine tokenises it exactly as the analysis did.
    return [{ start: 0, end: T, text, offset: 0 }];
  }
  return windows.map((w) => {
    const spanned = trace.tokens.slice(w.start, w.end).filter((t) => t.start !== null && t.end !== null);
    const from = spanned.length ? Math.min(...spanned.map((t) => t.start!)) : 0;
    const to = spanned.length ? Math.max(...spanned.map((t) => t.end!)) : 0;
    return { start: w.start, end: w.end, text: text.slice(from, to), offset: from };
  });
}

/** For each engine token of a window, the trace token it is (same span in the document), or -1. */
export function alignTokens(trace: RoutingTrace, slice: WindowSlice, engineTokens: readonly TraceToken[]): number[] {
  const bySpan = new Map<string, number>();
  for (let t = slice.start; t < slice.end; t++) {
    const tok = trace.tokens[t]!;
    if (tok.start !== null && tok.end !== null) {
      bySpan.set(`${tok.start}:${tok.end}`, t);
    }
  }
  return engineTokens.map((tok, j) => {
    if (tok.start === null || tok.end === null) {
      // Added by the post-processor (BOS): the same position without a span in the trace.
      const t = slice.start + j;
      return t < slice.end && trace.tokens[t]!.start === null ? t : -1;
    }
    return bySpan.get(`${tok.start + slice.offset}:${tok.end + slice.offset}`) ?? -1;
  });
}

/** One window's pass with its alignment onto the trace. */
export interface WindowPass {
  doc: CounterfactualPassDoc;
  /** alignTokens of this window's engine tokens. */
  toTrace: number[];
}

/**
 * The windows' passes laid over the trace's T tokens. A token in two windows keeps the earlier
 * window's value, as the analysis does (a window's first `overlap` tokens are context only).
 */
export function mergePasses(T: number, choice: CounterfactualChoice, passes: readonly WindowPass[]): CounterfactualOverlay {
  const kl: (number | null)[] = new Array<number | null>(T).fill(null);
  const surprisalDelta: (number | null)[] = new Array<number | null>(T).fill(null);
  const layers = new Map<number, OverlayLayer>();
  const filled = new Uint8Array(T);
  for (const { doc, toTrace } of passes) {
    for (const l of doc.layers) {
      if (!layers.has(l.layer)) {
        layers.set(l.layer, { layer: l.layer, experts: new Array(T).fill(null), weights: new Array(T).fill(null), dropped: l.dropped ? new Array(T).fill(null) : null });
      }
    }
    toTrace.forEach((t, j) => {
      if (t < 0 || t >= T || filled[t]) {
        return;
      }
      filled[t] = 1;
      kl[t] = doc.kl[j] ?? null;
      surprisalDelta[t] = doc.surprisalDelta[j] ?? null;
      for (const l of doc.layers) {
        const out = layers.get(l.layer)!;
        out.experts[t] = l.experts[j] ?? null;
        out.weights[t] = l.weights[j] ?? null;
        if (out.dropped && l.dropped) {
          out.dropped[t] = l.dropped[j] ?? [];
        }
      }
    });
  }
  const first = passes[0]?.doc;
  return {
    choice,
    mode: first?.mode ?? '',
    causal: passes.every((p) => p.doc.causal),
    kl,
    surprisalDelta,
    layers: [...layers.values()].sort((a, b) => a.layer - b.layer),
    windows: passes.length,
  };
}

/** One window's sweep and how many tokens it ran on. */
export interface WindowSweep {
  doc: CounterfactualSweepDoc;
  tokens: number;
}

/**
 * Sweep rows over the windows: means weighted by each window's tokens (Δsurprisal by its tokens
 * with a next token), max over all. Overlapping tokens count once per window they are in.
 */
export function combineSweeps(kind: CounterfactualSweep['kind'], layer: number | null, sweeps: readonly WindowSweep[]): CounterfactualSweep {
  const passes = sweeps[0]?.doc.passes.length ?? 0;
  const rows: CounterfactualSummaryRow[] = [];
  for (let p = 0; p < passes; p++) {
    let klSum = 0;
    let klN = 0;
    let max = 0;
    let dSum = 0;
    let dN = 0;
    for (const s of sweeps) {
      const r = s.doc.passes[p]!;
      klSum += r.meanKl * s.tokens;
      klN += s.tokens;
      max = Math.max(max, r.maxKl);
      if (r.meanSurprisalDelta !== null) {
        dSum += r.meanSurprisalDelta * (s.tokens - 1);
        dN += s.tokens - 1;
      }
    }
    rows.push({ mode: sweeps[0]!.doc.passes[p]!.mode, meanKl: klN ? klSum / klN : 0, maxKl: max, meanSurprisalDelta: dN ? dSum / dN : null });
  }
  return { kind, layer, rows, windows: sweeps.length };
}
