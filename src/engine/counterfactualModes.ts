/**
 * @file The counterfactual modes as a user writes them (`topk:2@3`, `ablate:5:1,7`, `sweep-k`) →
 * the passes to run. One grammar for the CLI and the engine request, so both refuse the same text.
 */
import type { CounterfactualPass } from './counterfactual';

/** What `expandMode` needs to know of the model. */
export interface ModeModel {
  numExperts: number;
  topK: number;
  moeLayers: number[];
}

export type ParsedMode =
  | { kind: 'passes'; passes: CounterfactualPass[] }
  /** Summaries: every k from 1 to E. */
  | { kind: 'sweep-k' }
  /** Summaries: each expert of one layer removed in turn. */
  | { kind: 'ablate-each'; layer: number };

export const MODE_SYNTAX =
  'topk:K[@L], expert-choice:F[@L], capacity:F[@L], dense[@L], ablate:L:E[,E…], force:L:E, sweep-k, ablate-each:L';

function fail(text: string, why: string): never {
  throw new Error(`bad mode '${text}': ${why} (modes: ${MODE_SYNTAX})`);
}

function int(text: string, part: string, what: string): number {
  if (!/^\d+$/.test(part)) {
    fail(text, `${what} must be a non-negative integer, got '${part}'`);
  }
  return Number(part);
}

function factor(text: string, part: string): number {
  const f = Number(part);
  if (part.trim() === '' || !Number.isFinite(f) || f <= 0) {
    fail(text, `the factor must be a number > 0, got '${part}'`);
  }
  return f;
}

/** Parses one mode; layer and expert ranges are checked against the model by `expandMode`. */
export function parseMode(text: string): ParsedMode {
  const [head, at, ...extra] = text.split('@');
  if (extra.length > 0) {
    fail(text, 'at most one @L');
  }
  const layer = at === undefined ? undefined : int(text, at, 'the layer after @');
  const [name, ...args] = head.split(':');
  const one = (routing: CounterfactualPass['routing']): ParsedMode => ({ kind: 'passes', passes: [{ mode: text, routing, fromLayer: layer ?? null }] });
  const arity = (n: number): void => {
    if (args.length !== n) {
      fail(text, `${name} takes ${n} argument${n === 1 ? '' : 's'} after ':'`);
    }
  };
  const noAt = (): void => {
    if (layer !== undefined) {
      fail(text, `${name} names its layer itself; no @L`);
    }
  };
  switch (name) {
    case 'topk':
      arity(1);
      return one({ kind: 'topk', k: int(text, args[0], 'k'), layer });
    case 'expert-choice':
      arity(1);
      return one({ kind: 'expert-choice', capacity: factor(text, args[0]), layer });
    case 'capacity':
      arity(1);
      return one({ kind: 'capacity', factor: factor(text, args[0]), layer });
    case 'dense':
      arity(0);
      return one({ kind: 'dense', layer });
    case 'ablate': {
      arity(2);
      noAt();
      const L = int(text, args[0], 'the layer');
      const experts = args[1].split(',').map((e) => int(text, e, 'an expert'));
      return { kind: 'passes', passes: [{ mode: text, routing: { kind: 'ablate', experts, layer: L }, fromLayer: L }] };
    }
    case 'force': {
      arity(2);
      noAt();
      const L = int(text, args[0], 'the layer');
      return { kind: 'passes', passes: [{ mode: text, routing: { kind: 'force', expert: int(text, args[1], 'the expert'), layer: L }, fromLayer: L }] };
    }
    case 'sweep-k':
      arity(0);
      noAt();
      return { kind: 'sweep-k' };
    case 'ablate-each':
      arity(1);
      noAt();
      return { kind: 'ablate-each', layer: int(text, args[0], 'the layer') };
    default:
      return fail(text, `unknown mode '${name}'`);
  }
}

function checkLayer(mode: string, layer: number | null, model: ModeModel): void {
  if (layer !== null && !model.moeLayers.includes(layer)) {
    throw new Error(`bad mode '${mode}': layer ${layer} is not an MoE layer of this model (MoE layers: ${model.moeLayers.join(', ')})`);
  }
}

/** The passes of a parsed mode for this model, with k, experts and layers checked against it. */
export function expandMode(parsed: ParsedMode, model: ModeModel): CounterfactualPass[] {
  const E = model.numExperts;
  const expert = (mode: string, e: number): void => {
    if (e >= E) {
      throw new Error(`bad mode '${mode}': expert ${e} does not exist (experts 0..${E - 1})`);
    }
  };
  if (parsed.kind === 'sweep-k') {
    return Array.from({ length: E }, (_, i) => ({ mode: `topk:${i + 1}`, routing: { kind: 'topk', k: i + 1 }, fromLayer: null }));
  }
  if (parsed.kind === 'ablate-each') {
    checkLayer(`ablate-each:${parsed.layer}`, parsed.layer, model);
    return Array.from({ length: E }, (_, e) => ({ mode: `ablate:${parsed.layer}:${e}`, routing: { kind: 'ablate', experts: [e], layer: parsed.layer }, fromLayer: parsed.layer }));
  }
  for (const p of parsed.passes) {
    checkLayer(p.mode, p.fromLayer, model);
    const r = p.routing;
    if (typeof r === 'function') {
      continue;
    }
    if (r.kind === 'topk' && (r.k < 1 || r.k > E)) {
      throw new Error(`bad mode '${p.mode}': k must be in 1..${E}`);
    }
    if (r.kind === 'ablate') {
      r.experts.forEach((e) => expert(p.mode, e));
      if (new Set(r.experts).size >= E) {
        throw new Error(`bad mode '${p.mode}': cannot remove all ${E} experts`);
      }
    }
    if (r.kind === 'force') {
      expert(p.mode, r.expert);
    }
  }
  return parsed.passes;
}

/** Expert choice ranks each expert's tokens over the whole window, so a token's routing depends on later tokens. */
export function isCausal(parsed: ParsedMode): boolean {
  return !(parsed.kind === 'passes' && parsed.passes.some((p) => typeof p.routing !== 'function' && p.routing.kind === 'expert-choice'));
}
