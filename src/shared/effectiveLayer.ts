/**
 * @file The layer every view shows for a trace, decided here once: the layer the user chose (Select
 * Layer, a panel, `moeLens.selectedLayer`) when it is one of the trace's MoE layers, else the model's
 * default layer (the embedded model names its most specialised one), else the first MoE layer. A dense
 * layer has no routing to colour, so it is never the one in focus.
 */
import type { RoutingTrace, TraceModelInfo } from './trace';

type LayersAndDefault = Pick<RoutingTrace, 'layers'> & { model?: Pick<TraceModelInfo, 'defaultLayer'> };

/** `wanted` when it is a MoE layer of `trace`, else the model's default MoE layer, else its first; null when it has none. */
export function effectiveLayer(trace: LayersAndDefault, wanted?: number | null): number | null {
  const moe = trace.layers.filter((l) => l.kind === 'moe');
  const named = (layer: number | null | undefined): number | undefined => moe.find((l) => l.layer === layer)?.layer;
  return named(wanted) ?? named(trace.model?.defaultLayer) ?? moe[0]?.layer ?? null;
}
