/**
 * @file Per-token routing figures shown in hovers (definitions from shared/design/routing-math.md):
 * entropy of softmax(router logits), the margin between the weakest chosen and the strongest
 * unchosen expert score, the near-miss expert, and the shared expert's share of the gate weight.
 */
import type { LayerRouting } from '../../shared/trace';

export function softmax(logits: readonly number[]): number[] {
  let max = -Infinity;
  for (const l of logits) {
    max = Math.max(max, l);
  }
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((s, x) => s + x, 0);
  return exps.map((x) => x / sum);
}

/** Shannon entropy in nats of a probability vector (zeros contribute nothing). */
export function entropy(probs: readonly number[]): number {
  let h = 0;
  for (const p of probs) {
    if (p > 0) {
      h -= p * Math.log(p);
    }
  }
  return h;
}

export interface TokenRouting {
  experts: number[];
  weights: number[];
  /** Entropy of softmax(router logits) in nats, or null without logits/probability scores. */
  entropy: number | null;
  /** entropy / ln E, in [0, 1]. */
  normalizedEntropy: number | null;
  /** min score over chosen − max score over the others (negative when a bias steered selection). */
  margin: number | null;
  /** The best-scoring expert that was not chosen. */
  nearMiss: number | null;
  /** Shared expert weight / (shared + Σ routed weights), or null without a shared expert. */
  sharedShare: number | null;
}

export function tokenRouting(layer: LayerRouting, t: number, scoresAreProbabilities: boolean): TokenRouting | null {
  if (layer.kind !== 'moe' || !layer.experts || !layer.weights || !layer.experts[t]) {
    return null;
  }
  const experts = layer.experts[t];
  const weights = layer.weights[t];
  const logits = layer.routerLogits?.[t];
  const scores = layer.scores?.[t];
  let probs: number[] | null = null;
  if (logits && logits.length > 0) {
    probs = softmax(logits);
  } else if (scores && scoresAreProbabilities) {
    probs = [...scores];
  }
  const h = probs ? entropy(probs) : null;
  const E = probs?.length ?? 0;
  let margin: number | null = null;
  let nearMiss: number | null = null;
  if (scores && scores.length > experts.length) {
    const chosen = new Set(experts);
    let minChosen = Infinity;
    let best = -Infinity;
    scores.forEach((s, e) => {
      if (chosen.has(e)) {
        minChosen = Math.min(minChosen, s);
      } else if (s > best) {
        best = s;
        nearMiss = e;
      }
    });
    margin = minChosen - best;
  }
  const shared = layer.sharedWeight?.[t];
  const routed = weights.reduce((s, w) => s + Math.abs(w), 0);
  return {
    experts,
    weights,
    entropy: h,
    normalizedEntropy: h !== null && E > 1 ? h / Math.log(E) : null,
    margin,
    nearMiss,
    sharedShare: typeof shared === 'number' && shared + routed > 0 ? shared / (shared + routed) : null,
  };
}
