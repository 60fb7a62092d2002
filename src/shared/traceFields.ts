/**
 * @file Which optional parts a trace lacks. An imported trace (CSV, npy, safetensors) carries only
 * what its source had; everything else is null (traceCheck.ts accepts that). Each view that needs a
 * missing part says so in these words instead of drawing nothing or failing; the hover, the token
 * detail and the dashboard all ask here.
 */
import type { LayerRouting, RoutingTrace } from './trace';

/** What every surface says where a figure needs a part the trace does not have. */
export const NOT_IN_TRACE = 'not in this trace';

export interface TraceFields {
  /** Applied gate weights, in every MoE layer. */
  weights: boolean;
  /** Router logits, or scores, in every MoE layer (what entropy, score ranks and margins need). */
  scores: boolean;
  /** Router logits in every MoE layer (z-loss and router probabilities need the logits or softmax scores). */
  routerLogits: boolean;
  /** The shared expert's weight, when the model has a shared expert (true when it has none). */
  sharedWeight: boolean;
  /** Token ids. */
  ids: boolean;
  /** Token spans in the document. */
  spans: boolean;
  /** Token texts. */
  texts: boolean;
  /** Surprisal of at least one token. */
  surprisal: boolean;
}

const moeLayers = (t: RoutingTrace): LayerRouting[] => t.layers.filter((l) => l.kind === 'moe' && l.experts);

/** Whether one MoE layer has scores to rank by (logits, scores, or DeepSeek's selection). */
export function layerHasScores(l: LayerRouting): boolean {
  return !!(l.routerLogits || l.scores || l.selection);
}

export function traceFields(t: RoutingTrace): TraceFields {
  const moe = moeLayers(t);
  return {
    weights: moe.every((l) => l.weights),
    scores: moe.every(layerHasScores),
    routerLogits: moe.every((l) => l.routerLogits),
    sharedWeight: !t.model.hasSharedExpert || moe.every((l) => l.sharedWeight),
    ids: t.tokens.every((x) => x.id !== null),
    spans: t.tokens.some((x) => x.start !== null),
    texts: t.tokens.some((x) => x.text !== null),
    surprisal: t.surprisal.some((s) => s !== null),
  };
}

/** "gate weights, router scores" — the parts a view needs that this trace lacks, in words; empty when none. */
export function missingParts(f: TraceFields, needs: readonly (keyof TraceFields)[]): string[] {
  const words: Record<keyof TraceFields, string> = {
    weights: 'gate weights',
    scores: 'router scores and logits',
    routerLogits: 'router logits',
    sharedWeight: 'shared-expert weights',
    ids: 'token ids',
    spans: 'token spans',
    texts: 'token texts',
    surprisal: 'surprisal',
  };
  return needs.filter((n) => !f[n]).map((n) => words[n]);
}
