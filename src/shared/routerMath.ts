/**
 * @file The row maths every surface shares (hover, panels, CLI, statistics): softmax, entropy, and
 * which gates score by softmax(router logits), so their scores can be left out of a message and
 * derived again. Pure functions on plain arrays; no vscode, no DOM, no tfjs.
 */
import type { GateKind, LayerRouting, TraceModelInfo } from './trace';

export function logSumExp(l: readonly number[]): number {
  let max = -Infinity;
  for (const x of l) {
    if (x > max) {
      max = x;
    }
  }
  if (!Number.isFinite(max)) {
    return max;
  }
  let s = 0;
  for (const x of l) {
    s += Math.exp(x - max);
  }
  return max + Math.log(s);
}

/** exp(l − max) / Σ: exact on ties (½, ½), as the routers need for transformers' tie-breaking. */
export function softmax(l: readonly number[]): number[] {
  let max = -Infinity;
  for (const x of l) {
    if (x > max) {
      max = x;
    }
  }
  const exps = l.map((x) => Math.exp(x - max));
  let sum = 0;
  for (const e of exps) {
    sum += e;
  }
  return exps.map((e) => e / sum);
}

/** Shannon entropy (nats) of a distribution; zero probabilities contribute 0. */
export function entropy(p: readonly number[]): number {
  let h = 0;
  for (const x of p) {
    if (x > 0) {
      h -= x * Math.log(x);
    }
  }
  return h;
}

/** Gates whose scores are softmax(router logits): probabilities, and derivable from the logits. */
export function scoresAreSoftmax(gate: GateKind | string): boolean {
  return gate === 'softmax-renormalized' || gate === 'softmax-raw' || gate === 'softmax-scaled';
}

/** One token's scores in one layer; derived from the logits where the trace left them out (softmax gates). */
export function scoresRow(model: Pick<TraceModelInfo, 'gate'>, l: LayerRouting, t: number): number[] | null {
  const row = l.scores?.[t];
  if (row) {
    return row;
  }
  const logits = l.routerLogits?.[t];
  return logits && scoresAreSoftmax(model.gate) ? softmax(logits) : null;
}
