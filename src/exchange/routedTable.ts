/** @file A trace's MoE layers as the dense [T, L, k] block the array formats store (rows shorter than k padded). */
import type { LayerRouting, RoutingTrace } from '../shared/trace';

export interface RoutedTable {
  T: number;
  /** The MoE layers with routing, in trace order; L = layers.length. */
  layers: (LayerRouting & { experts: number[][] })[];
  /** Widest expert row (the model's k for a trace the engine wrote). */
  k: number;
}

/** Pad value for expert ids where a token had fewer than k experts (never a real id). */
export const NO_EXPERT = -1;

export function routedTable(trace: RoutingTrace): RoutedTable {
  const layers = trace.layers.filter((l): l is LayerRouting & { experts: number[][] } => l.kind === 'moe' && l.experts !== null);
  let k = 0;
  for (const l of layers) {
    for (const row of l.experts) {
      k = Math.max(k, row.length);
    }
  }
  return { T: trace.tokens.length, layers, k };
}
