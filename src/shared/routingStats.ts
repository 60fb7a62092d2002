/**
 * @file Per-layer routing statistics over a trace: load and balance, co-activation, layer
 * transitions, vocabulary specialisation, and each layer's per-token entropy and margin taken from
 * the per-token facts (tokenFacts.ts). Pure functions on plain arrays (no DOM, no vscode) so the
 * dashboard, the CLI and the unit tests compute exactly the same numbers.
 *
 * Definitions follow /work/shared/design/routing-math.md: f_i is the share of routed slots (Σ f = 1),
 * P_i the mean router probability softmax(l), Switch aux loss E·Σ f_i·P_i (1 when balanced), router
 * z-loss mean(logsumexp(l)²). Entropies are in nats.
 */
import { logSumExp, softmax } from './routerMath';
import { tokenEntropy, tokenMargin } from './tokenFacts';
import type { LayerRouting, RoutingTrace, TraceModelInfo } from './trace';

// ---- load and balance ------------------------------------------------------------------------

/** How many tokens chose each expert (any of their k slots). */
export function expertCounts(experts: readonly (readonly number[])[], numExperts: number): number[] {
  const c = new Array<number>(numExperts).fill(0);
  for (const row of experts) {
    for (const e of row) {
      c[e]!++;
    }
  }
  return c;
}

/** f_i: share of all routed slots that went to expert i (Σ = 1; uniform 1/E). */
export function slotShare(experts: readonly (readonly number[])[], numExperts: number): number[] {
  const c = expertCounts(experts, numExperts);
  const total = c.reduce((a, b) => a + b, 0);
  return c.map((x) => (total > 0 ? x / total : 0));
}

/** Share of tokens routed to expert i (Σ = k; uniform k/E). */
export function tokenShare(experts: readonly (readonly number[])[], numExperts: number): number[] {
  const c = expertCounts(experts, numExperts);
  return c.map((x) => (experts.length > 0 ? x / experts.length : 0));
}

/** P_i: mean router probability softmax(l)_i over tokens. */
export function meanRouterProb(logits: readonly (readonly number[])[], numExperts: number): number[] {
  const p = new Array<number>(numExperts).fill(0);
  for (const row of logits) {
    const s = softmax(row);
    for (let i = 0; i < numExperts; i++) {
      p[i]! += s[i]!;
    }
  }
  return p.map((x) => (logits.length > 0 ? x / logits.length : 0));
}

/** Switch-Transformer auxiliary loss E·Σ f_i·P_i (1.0 when perfectly balanced). */
export function switchAuxLoss(f: readonly number[], p: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < f.length; i++) {
    s += f[i]! * p[i]!;
  }
  return f.length * s;
}

/** Router z-loss: mean over tokens of logsumexp(l)². */
export function routerZLoss(logits: readonly (readonly number[])[]): number {
  if (logits.length === 0) {
    return NaN;
  }
  let s = 0;
  for (const row of logits) {
    const z = logSumExp(row);
    s += z * z;
  }
  return s / logits.length;
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Coefficient of variation: population standard deviation over the mean. */
export function coefficientOfVariation(xs: readonly number[]): number {
  const m = mean(xs);
  if (!(m > 0)) {
    return NaN;
  }
  const v = xs.reduce((a, x) => a + (x - m) * (x - m), 0) / xs.length;
  return Math.sqrt(v) / m;
}

export function maxOverMean(xs: readonly number[]): number {
  const m = mean(xs);
  return m > 0 ? Math.max(...xs) / m : NaN;
}

// ---- document-level patterns -----------------------------------------------------------------

/** C[i][j]: tokens that chose both i and j (the diagonal: tokens that chose i). */
export function coActivation(experts: readonly (readonly number[])[], numExperts: number): number[][] {
  const c = Array.from({ length: numExperts }, () => new Array<number>(numExperts).fill(0));
  for (const row of experts) {
    for (const a of row) {
      for (const b of row) {
        c[a]![b]!++;
      }
    }
  }
  return c;
}

/** M[i][j]: tokens whose top-1 expert is i in layer A and j in layer B. */
export function transitions(
  expertsA: readonly (readonly number[])[],
  expertsB: readonly (readonly number[])[],
  numExperts: number,
): number[][] {
  const m = Array.from({ length: numExperts }, () => new Array<number>(numExperts).fill(0));
  const n = Math.min(expertsA.length, expertsB.length);
  for (let t = 0; t < n; t++) {
    const a = expertsA[t]![0];
    const b = expertsB[t]![0];
    if (a !== undefined && b !== undefined) {
      m[a]![b]!++;
    }
  }
  return m;
}

/** Share of consecutive token pairs whose top-1 expert is the same (NaN under 2 tokens). */
export function sameExpertRate(experts: readonly (readonly number[])[]): number {
  if (experts.length < 2) {
    return NaN;
  }
  let same = 0;
  for (let t = 1; t < experts.length; t++) {
    if (experts[t]![0] === experts[t - 1]![0]) {
      same++;
    }
  }
  return same / (experts.length - 1);
}

/** The rate `sameExpertRate` would have if top-1 experts were drawn independently with their observed frequencies: Σ q_i². */
export function sameExpertBaseline(experts: readonly (readonly number[])[], numExperts: number): number {
  const q = new Array<number>(numExperts).fill(0);
  for (const row of experts) {
    if (row[0] !== undefined) {
      q[row[0]]!++;
    }
  }
  const n = experts.length;
  return n ? q.reduce((a, x) => a + (x / n) * (x / n), 0) : NaN;
}

/** Quartiles by linear interpolation (R type 7): [min, q1, median, q3, max], ignoring NaN. */
export function fiveNumber(values: readonly number[]): [number, number, number, number, number] | null {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!xs.length) {
    return null;
  }
  const q = (p: number): number => {
    const h = (xs.length - 1) * p;
    const lo = Math.floor(h);
    return xs[lo]! + (h - lo) * ((xs[Math.min(lo + 1, xs.length - 1)] ?? xs[lo]!) - xs[lo]!);
  };
  return [xs[0]!, q(0.25), q(0.5), q(0.75), xs[xs.length - 1]!];
}

export interface TopToken {
  id: number;
  text: string | null;
  count: number;
}

export interface RepeatedToken {
  id: number;
  text: string | null;
  /** Occurrences of the token in the document. */
  count: number;
  /** Its most frequent top-1 expert (ties to the lower index). */
  modalExpert: number;
  /** Share of its occurrences routed (top-1) to the modal expert. */
  consistency: number;
}

/** Each expert's most frequent tokens (any slot), at most `topN` per expert, by count then id. */
export function expertTopTokens(
  tokens: readonly { id: number; text: string | null }[],
  experts: readonly (readonly number[])[],
  numExperts: number,
  topN: number,
): TopToken[][] {
  const per = Array.from({ length: numExperts }, () => new Map<number, number>());
  const text = new Map<number, string | null>();
  for (let t = 0; t < experts.length; t++) {
    const id = tokens[t]!.id;
    text.set(id, tokens[t]!.text);
    for (const e of experts[t]!) {
      per[e]!.set(id, (per[e]!.get(id) ?? 0) + 1);
    }
  }
  return per.map((m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, topN)
      .map(([id, count]) => ({ id, text: text.get(id) ?? null, count })),
  );
}

/** Tokens that occur at least twice, with how consistently they go to the same top-1 expert; most frequent first. */
export function repeatedTokenConsistency(
  tokens: readonly { id: number; text: string | null }[],
  experts: readonly (readonly number[])[],
  numExperts: number,
): RepeatedToken[] {
  const by = new Map<number, { text: string | null; counts: number[]; n: number }>();
  for (let t = 0; t < experts.length; t++) {
    const top = experts[t]![0];
    if (top === undefined) {
      continue;
    }
    const id = tokens[t]!.id;
    let r = by.get(id);
    if (!r) {
      r = { text: tokens[t]!.text, counts: new Array<number>(numExperts).fill(0), n: 0 };
      by.set(id, r);
    }
    r.counts[top]!++;
    r.n++;
  }
  const out: RepeatedToken[] = [];
  for (const [id, r] of by) {
    if (r.n < 2) {
      continue;
    }
    let modal = 0;
    for (let e = 1; e < numExperts; e++) {
      if (r.counts[e]! > r.counts[modal]!) {
        modal = e;
      }
    }
    out.push({ id, text: r.text, count: r.n, modalExpert: modal, consistency: r.counts[modal]! / r.n });
  }
  return out.sort((a, b) => b.count - a.count || a.id - b.id);
}

// ---- whole-layer summaries -------------------------------------------------------------------

export interface LayerSummary {
  layer: number;
  /** f_i, share of routed slots (Σ 1). */
  slotShare: number[];
  /** Share of tokens routed to each expert (Σ k). */
  tokenShare: number[];
  /** P_i, mean softmax(l); null without logits. */
  meanProb: number[] | null;
  auxLoss: number;
  zLoss: number;
  cv: number;
  maxOverMean: number;
  /** Per token: router entropy (nats) and margin to the near miss (tokenFacts.ts), NaN where undefined. */
  entropy: number[];
  margin: number[];
  sameExpertRate: number;
  sameExpertBaseline: number;
}

/** Everything the dashboard shows for one MoE layer (null for dense layers). */
export function summarizeLayer(l: LayerRouting, model: Pick<TraceModelInfo, 'numExperts' | 'gate'>): LayerSummary | null {
  if (l.kind !== 'moe' || !l.experts) {
    return null;
  }
  const numExperts = model.numExperts;
  const f = slotShare(l.experts, numExperts);
  const p = l.routerLogits ? meanRouterProb(l.routerLogits, numExperts) : null;
  const T = l.experts.length;
  const ent = new Array<number>(T);
  const mar = new Array<number>(T);
  for (let t = 0; t < T; t++) {
    ent[t] = tokenEntropy(model, l, t) ?? NaN;
    mar[t] = tokenMargin(model, l, t).margin ?? NaN;
  }
  return {
    layer: l.layer,
    slotShare: f,
    tokenShare: tokenShare(l.experts, numExperts),
    meanProb: p,
    auxLoss: p ? switchAuxLoss(f, p) : NaN,
    zLoss: l.routerLogits ? routerZLoss(l.routerLogits) : NaN,
    cv: coefficientOfVariation(f),
    maxOverMean: maxOverMean(f),
    entropy: ent,
    margin: mar,
    sameExpertRate: sameExpertRate(l.experts),
    sameExpertBaseline: sameExpertBaseline(l.experts, numExperts),
  };
}

export function summarizeTrace(trace: RoutingTrace): LayerSummary[] {
  const out: LayerSummary[] = [];
  for (const l of trace.layers) {
    const s = summarizeLayer(l, trace.model);
    if (s) {
      out.push(s);
    }
  }
  return out;
}
