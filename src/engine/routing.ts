/**
 * @file The routing step between a layer's router logits and its experts, and how a caller replaces it.
 *
 * Each family writes its own router (a `FamilyRouter`, about ten lines in its family file) on plain
 * numbers read back from the router linear. `routeLayer` runs it, or a per-call `RoutingOverride`
 * (another k, ablated experts, dense mixture, expert choice, or any function) for counterfactuals.
 * Router maths is float32 in transformers; float64 here rounds to the same values within ~1e-7.
 */

import { softmax } from '../shared/routerMath';

// The one softmax of the project; the family routers take it from here with the other helpers.
export { softmax };

/** What a router decides for T tokens. Rows of `experts`/`weights` are in descending weight. */
export interface RouterResult {
  /** The scores the family ranks by before any selection-only bias, [T][E]. */
  scores: number[][];
  /** Chosen experts, [T][k] (a row may be shorter or longer under an override). */
  experts: number[][];
  /** Gate weights exactly as multiplied into the expert outputs, [T][k]. */
  weights: number[][];
  /** What the router ranked by, when that is not `scores` (DeepSeek-V3), [T][E]; −∞ for experts it could not take. */
  selection?: number[][];
}

/**
 * A family's router: logits [T][E] → scores, selection, gate weights. `k` and `blocked` let one
 * implementation serve counterfactuals: blocked experts can never be selected.
 */
export type FamilyRouter = (logits: number[][], k: number, blocked: ReadonlySet<number>) => RouterResult;

export interface RoutingContext {
  /** The checkpoint's layer number. */
  layer: number;
  logits: number[][]; // [T][E]
  /** The family's own k. */
  k: number;
  /** The family's own router, for overrides that only adjust its inputs. */
  familyRouter: FamilyRouter;
}

/** Replaces the family's routing for one call. */
export type RoutingOverride =
  /** The family's router with another k. */
  | { kind: 'topk'; k: number }
  /** The family's router with these experts removed from selection (optionally another k). */
  | { kind: 'ablate'; experts: number[]; k?: number }
  /** Soft mixture: every expert, weighted by softmax(logits). */
  | { kind: 'dense' }
  /** Expert choice (Zhou et al. 2022): each expert takes its top-C tokens by softmax score, C = max(1, ⌊T·c/E⌋). */
  | { kind: 'expert-choice'; capacity: number }
  /** Anything else: given the layer's logits, return experts and weights per token. */
  | ((ctx: RoutingContext) => Pick<RouterResult, 'experts' | 'weights'>);

// ---------------------------------------------------------------------------------------------
// Helpers the family routers use
// ---------------------------------------------------------------------------------------------

/** Splits a row-major buffer into rows [T][width], taking columns [from, from+count). */
export function toRows(data: ArrayLike<number>, T: number, width: number, from = 0, count = width - from): number[][] {
  const rows: number[][] = [];
  for (let t = 0; t < T; t++) {
    const row = new Array<number>(count);
    for (let e = 0; e < count; e++) {
      row[e] = data[t * width + from + e];
    }
    rows.push(row);
  }
  return rows;
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** Indices of the k largest values, descending; ties go to the lower index; blocked ones never chosen. */
export function topk(row: number[], k: number, blocked: ReadonlySet<number> = new Set()): number[] {
  const order = row.map((_, i) => i).filter((i) => !blocked.has(i));
  order.sort((a, b) => row[b] - row[a] || a - b);
  return order.slice(0, k);
}

export function normalize(values: number[]): number[] {
  const sum = values.reduce((a, b) => a + b, 0);
  return values.map((v) => v / sum);
}

/** Reorders each token's (expert, weight) pairs by descending weight (ties: lower expert first). */
export function sortByWeight(experts: number[][], weights: number[][]): Pick<RouterResult, 'experts' | 'weights'> {
  const pairs = experts.map((row, t) => row.map((e, j) => [e, weights[t][j]]).sort((a, b) => b[1] - a[1] || a[0] - b[0]));
  return { experts: pairs.map((p) => p.map((x) => x[0])), weights: pairs.map((p) => p.map((x) => x[1])) };
}

// ---------------------------------------------------------------------------------------------
// The routing step
// ---------------------------------------------------------------------------------------------

function checkK(k: number, E: number): void {
  if (!Number.isInteger(k) || k < 1 || k > E) {
    throw new Error(`routing: k must be an integer in 1..${E}, got ${k}`);
  }
}

function expertChoice(logits: number[][], capacity: number): Pick<RouterResult, 'experts' | 'weights'> {
  const T = logits.length;
  const E = logits[0]?.length ?? 0;
  const probs = logits.map(softmax); // [T][E], softmax over experts
  const C = Math.max(1, Math.floor((T * capacity) / E));
  const experts: number[][] = logits.map(() => []);
  const weights: number[][] = logits.map(() => []);
  for (let e = 0; e < E; e++) {
    const column = probs.map((p) => p[e]);
    for (const t of topk(column, Math.min(C, T))) {
      experts[t].push(e);
      weights[t].push(probs[t][e]);
    }
  }
  return sortByWeight(experts, weights);
}

/** Runs the family's router, or the override, on one layer's logits [T][E]. */
export function routeLayer(ctx: RoutingContext, override?: RoutingOverride): RouterResult {
  const E = ctx.logits[0]?.length ?? 0;
  const own = ctx.familyRouter(ctx.logits, ctx.k, new Set());
  if (!override) {
    return own;
  }
  if (typeof override === 'function') {
    return { scores: own.scores, ...override(ctx) };
  }
  switch (override.kind) {
    case 'topk':
      checkK(override.k, E);
      return ctx.familyRouter(ctx.logits, override.k, new Set());
    case 'ablate': {
      const blocked = new Set(override.experts);
      const k = Math.min(override.k ?? ctx.k, E - blocked.size);
      checkK(k, E);
      return ctx.familyRouter(ctx.logits, k, blocked);
    }
    case 'dense': {
      const probs = ctx.logits.map(softmax);
      const all = probs.map((p) => topk(p, E));
      return { scores: own.scores, experts: all, weights: all.map((row, t) => row.map((e) => probs[t][e])) };
    }
    case 'expert-choice':
      if (!(override.capacity > 0)) {
        throw new Error(`routing: expert-choice capacity must be > 0, got ${override.capacity}`);
      }
      return { scores: own.scores, ...expertChoice(ctx.logits, override.capacity) };
  }
}
