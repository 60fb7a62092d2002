/**
 * @file The routing step between a layer's router logits and its experts, and how a caller replaces it.
 *
 * Each family writes its own router (a `FamilyRouter`, about ten lines in its family file) on plain
 * numbers read back from the router linear. `routeLayer` runs it, or a per-call `RoutingOverride`
 * (another k, ablated or forced experts, dense mixture, expert choice, expert capacity, or any
 * function) for counterfactuals. Every override that needs gate maths asks the family's router
 * (another k, blocked experts, a forced expert, k = E for dense), so each family's gate stays in its file.
 * Router maths is float32 in transformers; float64 here rounds to the same values within ~1e-7.
 */

import { softmax } from '../shared/routerMath';

// The one softmax of the project; the family routers take it from here with the other helpers.
export { softmax };

/** What a router decides for T tokens. Rows of `experts`/`weights` are in descending weight. */
export interface RouterResult {
  /** Under `capacity` only: per token the experts it chose but lost to a full expert, [T][…]. */
  dropped?: number[][];
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
 * A family's router: logits [T][E] → scores, selection, gate weights. `k`, `blocked` and `forced` let
 * one implementation serve counterfactuals: blocked experts can never be selected; a `forced` expert
 * takes the k-th slot of every token that did not choose it (see `pick`), and the family computes
 * the weights over that set as over any other.
 */
export type FamilyRouter = (logits: number[][], k: number, blocked: ReadonlySet<number>, forced?: number) => RouterResult;

export interface RoutingContext {
  /** The checkpoint's layer number. */
  layer: number;
  logits: number[][]; // [T][E]
  /** The family's own k. */
  k: number;
  /** The family's own router, for overrides that only adjust its inputs. */
  familyRouter: FamilyRouter;
}

/**
 * Replaces the family's routing for one call. `layer` (the checkpoint's layer number) limits an
 * override to that layer; every other layer routes as the family does.
 */
export type RoutingOverride =
  /** The family's router with another k (1…E). */
  | { kind: 'topk'; k: number; layer?: number }
  /**
   * The family's router with these experts removed before selection (the next-best fill the slots;
   * optionally another k). The gate is the family's over the chosen set; softmax denominators still
   * hold the removed experts' logits, so removing an expert no token chose changes nothing.
   */
  | { kind: 'ablate'; experts: number[]; k?: number; layer?: number }
  /** `expert` in every token's set: it replaces the k-th choice of tokens that lacked it; the family's gate over that set. */
  | { kind: 'force'; expert: number; layer?: number }
  /** Soft mixture: every expert, weighted by the family's own gate over all E (its router with k = E). */
  | { kind: 'dense'; layer?: number }
  /**
   * Expert choice (Zhou et al. 2022): each expert takes its top-C tokens by the dense gate
   * (the `dense` weights), C = max(1, ⌊T·capacity/E⌋), ties to the earlier token, and weights them by it.
   * A token may get 0…E experts. Looks at the whole window: not causal.
   */
  | { kind: 'expert-choice'; capacity: number; layer?: number }
  /**
   * Switch/GShard expert capacity: the family's top-k, then in position order an expert takes at most
   * C = ⌈T·k·factor/E⌉ assignments; later ones are dropped (listed in `dropped`), the rest keep their weights.
   */
  | { kind: 'capacity'; factor: number; layer?: number }
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

/** The family's top-k, with `forced` (when given and not already chosen) in place of the k-th choice. */
export function pick(row: number[], k: number, blocked: ReadonlySet<number> = new Set(), forced?: number): number[] {
  const chosen = topk(row, k, blocked);
  return forced === undefined || chosen.includes(forced) ? chosen : [...chosen.slice(0, k - 1), forced];
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

function checkExpert(e: number, E: number): void {
  if (!Number.isInteger(e) || e < 0 || e >= E) {
    throw new Error(`routing: expert must be an integer in 0..${E - 1}, got ${e}`);
  }
}

function checkFactor(what: string, f: number): void {
  if (!(f > 0) || !Number.isFinite(f)) {
    throw new Error(`routing: ${what} factor must be a finite number > 0, got ${f}`);
  }
}

/** Each expert takes the C tokens with the highest dense gate for it (ties: earlier token). */
function expertChoice(dense: RouterResult, capacity: number): Pick<RouterResult, 'experts' | 'weights'> {
  const T = dense.experts.length;
  const E = dense.experts[0]?.length ?? 0;
  const gate = dense.experts.map((row, t) => {
    const g = new Array<number>(E).fill(0);
    row.forEach((e, j) => (g[e] = dense.weights[t][j]));
    return g;
  }); // [T][E]
  const C = Math.min(T, Math.max(1, Math.floor((T * capacity) / E)));
  const experts: number[][] = gate.map(() => []);
  const weights: number[][] = gate.map(() => []);
  for (let e = 0; e < E; e++) {
    for (const t of topk(gate.map((g) => g[e]), C)) {
      experts[t].push(e);
      weights[t].push(gate[t][e]);
    }
  }
  return sortByWeight(experts, weights);
}

/** The family's top-k with at most C = ⌈T·k·factor/E⌉ assignments per expert, first come (position order) first served. */
function withCapacity(own: RouterResult, k: number, E: number, factor: number): RouterResult {
  const T = own.experts.length;
  const C = Math.ceil((T * k * factor) / E);
  const load = new Array<number>(E).fill(0);
  const experts: number[][] = [];
  const weights: number[][] = [];
  const dropped: number[][] = [];
  own.experts.forEach((row, t) => {
    experts.push([]);
    weights.push([]);
    dropped.push([]);
    row.forEach((e, j) => {
      if (load[e] < C) {
        load[e]++;
        experts[t].push(e);
        weights[t].push(own.weights[t][j]);
      } else {
        dropped[t].push(e);
      }
    });
  });
  return { ...own, experts, weights, dropped };
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
  if (override.layer !== undefined && override.layer !== ctx.layer) {
    return own;
  }
  switch (override.kind) {
    case 'topk':
      checkK(override.k, E);
      return ctx.familyRouter(ctx.logits, override.k, new Set());
    case 'ablate': {
      override.experts.forEach((e) => checkExpert(e, E));
      const blocked = new Set(override.experts);
      if (blocked.size >= E) {
        throw new Error(`routing: cannot remove all ${E} experts of layer ${ctx.layer}`);
      }
      const k = Math.min(override.k ?? ctx.k, E - blocked.size);
      checkK(k, E);
      return ctx.familyRouter(ctx.logits, k, blocked);
    }
    case 'force': {
      checkExpert(override.expert, E);
      const forced = ctx.familyRouter(ctx.logits, ctx.k, new Set(), override.expert);
      return { ...forced, ...sortByWeight(forced.experts, forced.weights) };
    }
    case 'dense':
      return ctx.familyRouter(ctx.logits, E, new Set());
    case 'expert-choice':
      checkFactor('expert-choice capacity', override.capacity);
      return { scores: own.scores, ...expertChoice(ctx.familyRouter(ctx.logits, E, new Set()), override.capacity) };
    case 'capacity':
      checkFactor('capacity', override.factor);
      return withCapacity(own, ctx.k, E, override.factor);
  }
}
