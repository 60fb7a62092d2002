/**
 * @file A layer's routed experts, read only when some token is routed to them: the router runs
 * first, then the forward pass asks the bank for the experts it chose, a group at a time, and
 * releases each group's widened weights before the next. A layer the memory budget lets us cache
 * holds every expert instead (`holdAll`).
 */
import { tf } from './backend';
import type { ExpertMlp } from './moe';
import type { WeightReader } from './weights';
import type { WeightPart } from './weightSource';

/** Experts made ready for one group: their MLP, and `release` to free what was made for it. */
export interface ExpertSet {
  mlp: ExpertMlp;
  release(): void;
}

export interface ExpertBank {
  readonly numExperts: number;
  /** Bytes of one expert's weights widened to float32 (sizes the groups the forward pass loads at once). */
  readonly expertBytes: number;
  load(experts: readonly number[]): Promise<ExpertSet>;
  /** Starts reading these experts' weights so a later `load` of them waits less (streamed only). */
  prefetch(experts: readonly number[]): void;
  /** Reads every expert now and keeps them until `dispose` (a cached resident layer). */
  holdAll(): Promise<void>;
  dispose(): void;
}

/** How a family reads one expert, which tensors it owns, and how it runs. */
export interface ExpertSpec<W> {
  numExperts: number;
  expertBytes: number;
  read(r: WeightReader, e: number): Promise<W>;
  /** Exactly the reads `read(r, e)` makes, so they can be started ahead. */
  parts(e: number): WeightPart[];
  tensors(w: W): tf.Tensor[];
  run(w: W, x: tf.Tensor2D): tf.Tensor2D; // [n, D] → [n, D]
}

/** Experts read through `r` on demand (each load in its own scope, so a failed read frees what it made). */
export function lazyExperts<W>(r: WeightReader, spec: ExpertSpec<W>): ExpertBank {
  let held: W[] | null = null;
  const readAll = async (ids: readonly number[]): Promise<Map<number, W>> => {
    const scope = r.scope();
    try {
      const made = new Map<number, W>();
      for (const e of ids) {
        made.set(e, await spec.read(scope, e));
      }
      return made;
    } catch (err) {
      scope.disposeAll();
      throw err;
    }
  };
  const mlpOf =
    (weights: { get(e: number): W | undefined }): ExpertMlp =>
    (e, x) => {
      const w = weights.get(e);
      if (w === undefined) {
        throw new Error(`expert ${e} was not loaded (internal error)`);
      }
      return spec.run(w, x);
    };
  return {
    numExperts: spec.numExperts,
    expertBytes: spec.expertBytes,
    async load(ids) {
      if (held) {
        const all = held;
        return { mlp: mlpOf({ get: (e) => all[e] }), release: () => undefined };
      }
      const made = await readAll(ids);
      return { mlp: mlpOf(made), release: () => tf.dispose([...made.values()].flatMap(spec.tensors)) };
    },
    prefetch(ids) {
      if (!held) {
        r.prefetch(ids.flatMap((e) => spec.parts(e)));
      }
    },
    async holdAll() {
      if (!held) {
        const made = await readAll(Array.from({ length: spec.numExperts }, (_, e) => e));
        held = Array.from({ length: spec.numExperts }, (_, e) => made.get(e) as W);
      }
    },
    dispose() {
      if (held) {
        tf.dispose(held.flatMap(spec.tensors));
        held = null;
      }
    },
  };
}
