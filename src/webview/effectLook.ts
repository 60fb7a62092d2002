/**
 * @file How a token looks while a counterfactual is active: its background is the effect on its
 * next-token distribution (KL on the fixed scale of klScale.ts) instead of its expert, and in the
 * selected layer a token no expert served (expert choice) or one that lost an assignment to a full
 * expert (capacity) is marked.
 */
import type { CounterfactualOverlay } from '../shared/counterfactualView';
import { klColors } from './klScale';
import type { TokenLook } from './tokenView';

export function effectLook(cf: CounterfactualOverlay, layer: number, stripHeight: number): TokenLook {
  const l = cf.layers.find((x) => x.layer === layer);
  return {
    background: (t) => klColors(cf.kl[t])?.background ?? '',
    foreground: (t) => klColors(cf.kl[t])?.text ?? '',
    marks: (t) => {
      const marks: string[] = [];
      if (l?.experts[t]?.length === 0) {
        marks.push('cf-none');
      }
      if (l?.dropped?.[t]?.length) {
        marks.push('cf-dropped');
      }
      return marks;
    },
    strip: null,
    stripHeight,
  };
}

/** In the selected layer: tokens served by no expert, and dropped assignments. */
export function effectCounts(cf: CounterfactualOverlay, layer: number): { none: number; dropped: number } {
  const l = cf.layers.find((x) => x.layer === layer);
  return {
    none: l ? l.experts.filter((e) => e !== null && e.length === 0).length : 0,
    dropped: l?.dropped ? l.dropped.reduce((n, d) => n + (d?.length ?? 0), 0) : 0,
  };
}
