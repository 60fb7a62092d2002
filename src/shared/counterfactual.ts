/**
 * @file The counterfactual document (`moe-lens.counterfactual/1`): what the CLI prints and the engine
 * returns for one mode. Plain data, shared by the engine, the CLI and (later) the panels.
 */

export const COUNTERFACTUAL_SCHEMA = 'moe-lens.counterfactual/1';

/** One MoE layer of a counterfactual pass: what served each token. */
export interface CounterfactualLayerDoc {
  layer: number;
  /** Experts that served token t, [T][…]; an empty row: served by none (residual and shared expert only). */
  experts: number[][];
  weights: number[][];
  /** `capacity` only: the experts token t chose but lost to a full expert, [T][…]. */
  dropped?: number[][];
}

/** One row per pass of `sweep-k` / `ablate-each:L`. */
export interface CounterfactualSummaryRow {
  mode: string;
  meanKl: number;
  maxKl: number;
  /** Over the tokens that have a next token; null with a single token. */
  meanSurprisalDelta: number | null;
}

/** A single pass (`topk:2`, `dense`, …). */
export interface CounterfactualPassDoc {
  schema: typeof COUNTERFACTUAL_SCHEMA;
  mode: string;
  /** False for expert choice: each expert ranks the whole window, so a token's routing depends on later tokens. */
  causal: boolean;
  /** KL(model ‖ counterfactual) of the next-token distribution per token, nats, [T]. */
  kl: number[];
  /** Surprisal of the actual next token, counterfactual − model, nats, [T]; null for the last token. */
  surprisalDelta: (number | null)[];
  layers: CounterfactualLayerDoc[];
}

/** A sweep (`sweep-k`, `ablate-each:L`): one summary row per pass. */
export interface CounterfactualSweepDoc {
  schema: typeof COUNTERFACTUAL_SCHEMA;
  mode: string;
  causal: boolean;
  passes: CounterfactualSummaryRow[];
}

export type CounterfactualDoc = CounterfactualPassDoc | CounterfactualSweepDoc;
