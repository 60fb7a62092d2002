/**
 * @file Cutting and joining the per-token rows of a layer's routing: windows are stitched from
 * slices, and an incremental run joins reused rows to recomputed ones.
 */
import type { LayerRouting } from '../shared/trace';

const ROW_KEYS = ['routerLogits', 'scores', 'experts', 'weights', 'sharedWeight', 'selection'] as const;

/** Rows [from, to) of every per-token array of a layer. */
export function sliceLayer(l: LayerRouting, from: number, to: number): LayerRouting {
  const cut = <T>(a: T[] | null): T[] | null => (a ? a.slice(from, to) : null);
  return {
    layer: l.layer,
    kind: l.kind,
    routerLogits: cut(l.routerLogits),
    scores: cut(l.scores),
    experts: cut(l.experts),
    weights: cut(l.weights),
    sharedWeight: cut(l.sharedWeight),
    ...(l.selection ? { selection: cut(l.selection) } : {}),
  };
}

/** Appends `part`'s rows to `into`'s, array by array. */
export function appendLayer(into: LayerRouting, part: LayerRouting): void {
  for (const key of ROW_KEYS) {
    const dst = into[key] as unknown[] | null | undefined;
    const src = part[key] as unknown[] | null | undefined;
    if (dst && src) {
      dst.push(...src);
    }
  }
}
