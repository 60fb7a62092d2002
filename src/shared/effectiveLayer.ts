/**
 * @file The layer every view shows for a trace, decided here once: the layer the user chose (Select
 * Layer, a panel, `moeLens.selectedLayer`) when it is one of the trace's MoE layers, else the
 * first MoE layer. A dense layer has no routing to colour, so it is never the one in focus.
 */
import type { RoutingTrace } from './trace';

/** `wanted` when it is a MoE layer of `trace`, else its first MoE layer; null when it has none. */
export function effectiveLayer(trace: Pick<RoutingTrace, 'layers'>, wanted?: number | null): number | null {
  const moe = trace.layers.filter((l) => l.kind === 'moe');
  return (moe.find((l) => l.layer === wanted) ?? moe[0])?.layer ?? null;
}
