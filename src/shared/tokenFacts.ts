/**
 * @file The per-token routing facts, defined once for every surface (hover, token detail, dashboard,
 * `moe-lens analyze`): weights as applied, score ranks, router entropy, margin, near miss, shared share.
 *
 * Margin and near miss are taken on the *selection quantity*, what the family ranks experts by: the
 * score for softmax and top-k-logit gates (gpt-oss's logits already include its router bias), and for
 * DeepSeek-V3 the sigmoid score plus `e_score_correction_bias` among the experts of the groups the
 * router allowed (the trace's `selection`, −∞ outside them). Margin = selection quantity of the k-th
 * chosen expert (the weakest chosen) − that of the best expert not chosen, the near miss; it is ≥ 0
 * whenever the router took its own top k.
 */
import { entropy, scoresAreSoftmax, scoresRow, softmax } from './routerMath';
import type { LayerRouting, TraceModelInfo } from './trace';

type GateOf = Pick<TraceModelInfo, 'gate'>;

/** Decimal places every surface prints a figure with, so the same token reads the same everywhere. */
export const DIGITS = { weight: 3, score: 3, entropy: 3, margin: 3, share: 1 } as const;

/** A figure as every surface prints it: fixed decimals, – when undefined, ∞ spelled out. */
export function formatFigure(x: number | null | undefined, digits: number): string {
  if (x === null || x === undefined || Number.isNaN(x)) {
    return '–';
  }
  if (!Number.isFinite(x)) {
    return x > 0 ? '∞' : '−∞';
  }
  return x.toFixed(digits);
}

/** A share in [0, 1] as a percentage. */
export function formatShare(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(DIGITS.share)}%`;
}

export interface TokenFacts {
  /** Chosen experts in descending applied weight, and their weights exactly as the model applies them. */
  experts: number[];
  /** Null per expert in an imported trace whose source has no weights (npy). */
  weights: (number | null)[];
  weightSum: number | null;
  /** Score of each chosen expert (null without scores). */
  scores: (number | null)[];
  /** 1-based rank of each chosen expert among all experts by score (ties to the lower index); null without scores. */
  scoreRanks: (number | null)[];
  /** Whether the chosen experts are exactly the top k by score (false: a selection-only bias or group limit moved the choice). */
  chosenAreTopScores: boolean | null;
  /** Router entropy in nats: of softmax(router logits), or of the scores when they are that softmax. */
  entropy: number | null;
  /** entropy / ln E, in [0, 1]. */
  normalizedEntropy: number | null;
  margin: number | null;
  nearMiss: number | null;
  /** What margin and near miss rank by. */
  selectionBy: 'score' | 'score + bias';
  sharedWeight: number | null;
  /** Shared expert weight / (shared + Σ routed weights), or null without a shared expert. */
  sharedShare: number | null;
}

/** What the family ranked token `t`'s experts by (see the file comment), or null when the trace cannot say. */
export function selectionRow(model: GateOf, l: LayerRouting, t: number): number[] | null {
  return l.selection?.[t] ?? scoresRow(model, l, t);
}

/** Router entropy of token `t` (nats), or null when the trace has neither logits nor softmax scores. */
export function tokenEntropy(model: GateOf, l: LayerRouting, t: number): number | null {
  const logits = l.routerLogits?.[t];
  if (logits && logits.length > 0) {
    return entropy(softmax(logits));
  }
  const scores = l.scores?.[t];
  return scores && scoresAreSoftmax(model.gate) ? entropy(scores) : null;
}

/** Margin and near miss on a selection row given the chosen experts (see the file comment). */
export function selectionMargin(q: readonly number[], chosen: readonly number[]): { margin: number | null; nearMiss: number | null } {
  if (chosen.length === 0) {
    return { margin: null, nearMiss: null };
  }
  let weakest = Infinity;
  for (const e of chosen) {
    weakest = Math.min(weakest, q[e] ?? NaN);
  }
  let nearMiss: number | null = null;
  for (let e = 0; e < q.length; e++) {
    // −∞ marks an expert the router could not take (outside its allowed groups).
    if (!chosen.includes(e) && q[e]! > -Infinity && (nearMiss === null || q[e]! > q[nearMiss]!)) {
      nearMiss = e;
    }
  }
  return nearMiss === null ? { margin: null, nearMiss: null } : { margin: weakest - q[nearMiss]!, nearMiss };
}

export function tokenMargin(model: GateOf, l: LayerRouting, t: number): { margin: number | null; nearMiss: number | null } {
  const q = selectionRow(model, l, t);
  const chosen = l.experts?.[t];
  return q && chosen ? selectionMargin(q, chosen) : { margin: null, nearMiss: null };
}

/** 1-based rank of `e` by descending score, ties to the lower index. */
function scoreRank(scores: readonly number[], e: number): number {
  let rank = 1;
  for (let j = 0; j < scores.length; j++) {
    if (scores[j]! > scores[e]! || (scores[j] === scores[e] && j < e)) {
      rank++;
    }
  }
  return rank;
}

/** Everything the surfaces show about token `t` in layer `l`; null for a dense layer. */
export function tokenFacts(model: Pick<TraceModelInfo, 'gate' | 'numExperts'>, l: LayerRouting, t: number): TokenFacts | null {
  const experts = l.experts?.[t];
  if (l.kind !== 'moe' || !experts) {
    return null;
  }
  const weights = l.weights?.[t] ?? null;
  const scores = scoresRow(model, l, t);
  const ranks = experts.map((e) => (scores ? scoreRank(scores, e) : null));
  const h = tokenEntropy(model, l, t);
  const E = l.routerLogits?.[t]?.length ?? scores?.length ?? model.numExperts;
  const weightSum = weights ? weights.reduce((a, b) => a + b, 0) : null;
  const shared = l.sharedWeight?.[t] ?? null;
  return {
    experts,
    weights: weights ?? experts.map(() => null),
    weightSum,
    scores: experts.map((e) => scores?.[e] ?? null),
    scoreRanks: ranks,
    chosenAreTopScores: scores ? ranks.every((r) => r !== null && r <= experts.length) : null,
    entropy: h,
    normalizedEntropy: h !== null && E > 1 ? h / Math.log(E) : null,
    ...tokenMargin(model, l, t),
    selectionBy: l.selection ? 'score + bias' : 'score',
    sharedWeight: shared,
    sharedShare: shared !== null && weightSum !== null && shared + weightSum > 0 ? shared / (shared + weightSum) : null,
  };
}
