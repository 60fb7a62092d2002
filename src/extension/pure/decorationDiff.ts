/**
 * @file Which decoration types an editor must be handed again. VS Code's `setDecorations` replaces
 * every range of a type at once (there is no per-range update), so the finest update is per type:
 * a redraw hands over only the buckets whose ranges differ from what that editor was last given,
 * and clears the buckets no token uses any more. After an incremental re-analysis the tokens before
 * the edit keep their routing, so the buckets holding only those are left alone.
 */

/** A bucket's ranges as document offsets [start, end), in token order. */
export type OffsetRanges = readonly (readonly [number, number])[];

/** A compact fingerprint of a bucket's ranges. */
export function rangesKey(ranges: OffsetRanges): string {
  return ranges.map(([s, e]) => `${s}-${e}`).join(',');
}

export interface DecorationPlan {
  /** Buckets to hand their (new) ranges. */
  set: string[];
  /** Buckets the editor had and no token uses now: hand them []. */
  clear: string[];
  /** What the editor shows once the plan is applied, for the next redraw. */
  shown: Map<string, string>;
}

/** `shown`: bucket → rangesKey of what the editor was last given; `wanted`: bucket → its ranges now. */
export function planDecorations(shown: ReadonlyMap<string, string>, wanted: ReadonlyMap<string, OffsetRanges>): DecorationPlan {
  const next = new Map<string, string>();
  const set: string[] = [];
  for (const [bucket, ranges] of wanted) {
    const key = rangesKey(ranges);
    next.set(bucket, key);
    if (shown.get(bucket) !== key) {
      set.push(bucket);
    }
  }
  const clear = [...shown.keys()].filter((bucket) => !wanted.has(bucket));
  return { set, clear, shown: next };
}
