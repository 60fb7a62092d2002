/**
 * @file Two traces compared (`moe-lens diff`, schema moe-lens.diff/1): per MoE layer, matched by the
 * checkpoint's own layer number, the Jensen–Shannon divergence in bits of the two expert-load
 * distributions; and, when both traces cover the same token spans, per token the experts that changed.
 * JSD is written as ½Σ p·log₂(p/m) + ½Σ q·log₂(q/m), m = (p+q)/2, so identical loads give exactly 0
 * (each term is p·log₂(1)), where H(m) − ½H(p) − ½H(q) leaves rounding noise.
 */
import type { RoutingTrace } from './trace';

export const DIFF_SCHEMA = 'moe-lens.diff/1';

export interface LayerDiff {
  /** The checkpoint's own layer number. */
  layer: number;
  /** Jensen–Shannon divergence of the two expert-load distributions, bits, in [0, 1]. */
  jsd: number;
  /** Expert-load distributions (share of all expert assignments per expert), [E]. */
  loadA: number[];
  loadB: number[];
  /** Tokens (of those compared) whose expert set differs in this layer; null without shared spans. */
  changedTokens: number | null;
}

export interface TokenChange {
  /** Token index (the same in both traces). */
  token: number;
  layer: number;
  /** Experts only A chose, and only B chose, ascending. */
  onlyA: number[];
  onlyB: number[];
}

export interface TraceDiff {
  schema: typeof DIFF_SCHEMA;
  a: { model: string; tokens: number };
  b: { model: string; tokens: number };
  numExperts: number;
  /** True when both traces have the same token spans, so per-token changes are listed. */
  sameSpans: boolean;
  layers: LayerDiff[];
  changes: TokenChange[] | null;
}

export class DiffError extends Error {}

/** Share of all expert assignments per expert in one layer, [E]; uniform-free: all zeros when nothing was routed. */
export function expertLoad(experts: readonly (readonly number[])[], E: number): number[] {
  const counts = new Array<number>(E).fill(0);
  let total = 0;
  for (const row of experts) {
    for (const e of row) {
      counts[e]++;
      total++;
    }
  }
  return total === 0 ? counts : counts.map((c) => c / total);
}

/** Σ p·log₂(p/m) over p > 0 (0·log 0 = 0). */
function klToMixture(p: readonly number[], m: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) {
      s += p[i] * Math.log2(p[i] / m[i]);
    }
  }
  return s;
}

/** Jensen–Shannon divergence in bits; exactly 0 for identical distributions. */
export function jsdBits(p: readonly number[], q: readonly number[]): number {
  const m = p.map((x, i) => (x + q[i]) / 2);
  return 0.5 * klToMixture(p, m) + 0.5 * klToMixture(q, m);
}

function sameSpans(a: RoutingTrace, b: RoutingTrace): boolean {
  return a.tokens.length === b.tokens.length && a.tokens.every((t, i) => t.start !== null && t.start === b.tokens[i].start && t.end === b.tokens[i].end);
}

/** The diff of A and B; throws a `DiffError` saying why when they cannot be compared. */
export function diffTraces(a: RoutingTrace, b: RoutingTrace): TraceDiff {
  if (a.model.numExperts !== b.model.numExperts) {
    throw new DiffError(`the traces route to different numbers of experts (${a.model.numExperts} vs ${b.model.numExperts}): expert loads cannot be compared`);
  }
  const E = a.model.numExperts;
  const moeOf = (t: RoutingTrace) => new Map(t.layers.filter((l) => l.kind === 'moe' && l.experts).map((l) => [l.layer, l.experts!] as const));
  const la = moeOf(a);
  const lb = moeOf(b);
  const shared = [...la.keys()].filter((n) => lb.has(n)).sort((x, y) => x - y);
  if (shared.length === 0) {
    throw new DiffError(`the traces share no MoE layer number (A: ${[...la.keys()].join(', ') || 'none'}; B: ${[...lb.keys()].join(', ') || 'none'})`);
  }
  const spans = sameSpans(a, b);
  const changes: TokenChange[] = [];
  const layers = shared.map((n): LayerDiff => {
    const ea = la.get(n)!;
    const eb = lb.get(n)!;
    const loadA = expertLoad(ea, E);
    const loadB = expertLoad(eb, E);
    let changedTokens: number | null = null;
    if (spans) {
      changedTokens = 0;
      ea.forEach((row, t) => {
        const setB = new Set(eb[t]);
        const setA = new Set(row);
        const onlyA = row.filter((e) => !setB.has(e)).sort((x, y) => x - y);
        const onlyB = eb[t].filter((e) => !setA.has(e)).sort((x, y) => x - y);
        if (onlyA.length > 0 || onlyB.length > 0) {
          changedTokens!++;
          changes.push({ token: t, layer: n, onlyA, onlyB });
        }
      });
    }
    return { layer: n, jsd: jsdBits(loadA, loadB), loadA, loadB, changedTokens };
  });
  return {
    schema: DIFF_SCHEMA,
    a: { model: a.model.name, tokens: a.tokens.length },
    b: { model: b.model.name, tokens: b.tokens.length },
    numExperts: E,
    sameSpans: spans,
    layers,
    changes: spans ? changes : null,
  };
}
