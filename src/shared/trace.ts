/**
 * @file The routing trace: what one analysis of a token sequence produced.
 *
 * This is the one result type shared by the engine (which fills it), the CLI (which prints it as
 * JSON, schema `moe-lens.trace/1`), the extension host (which caches it per document) and the
 * webviews (which draw it). No vscode, no tfjs: plain data only.
 *
 * Shapes use T = tokens, E = routed experts, k = experts per token, V = vocabulary.
 */

import { traceJsonPieces } from './traceJson';

export const TRACE_SCHEMA = 'moe-lens.trace/1';

/** How a family turns router outputs into the weights it multiplies expert outputs by. */
export type GateKind =
  /** softmax over all experts, top-k, renormalised to sum to 1 (Mixtral; Qwen/OLMoE with norm_topk_prob). */
  | 'softmax-renormalized'
  /** softmax over all experts, top-k, used as is: the k weights sum to < 1 (OLMoE, Qwen with norm_topk_prob=false). */
  | 'softmax-raw'
  /** softmax over the k chosen logits only (GraniteMoE, gpt-oss). */
  | 'topk-softmax'
  /** sigmoid scores, optionally renormalised over the chosen k, times routed_scaling_factor (DeepSeek-V3). */
  | 'sigmoid-scaled'
  /** softmax over all experts, top-k, times routed_scaling_factor (DeepSeek-V2). */
  | 'softmax-scaled'
  /** Not known: a trace imported from a format that does not say (CSV, npy). */
  | 'unknown';

/** One token of the analysed sequence. Spans are in UTF-16 code units of the original document. */
export interface TraceToken {
  /** The token id; null in a trace imported from a format that does not carry ids (CSV, npy). */
  id: number | null;
  /** The token's text as decoded (null when only ids were given). */
  text: string | null;
  /** [start, end) in the document; null for tokens added by the post-processor (BOS/EOS) or when only ids were given. */
  start: number | null;
  end: number | null;
  /** True when this token shares a split code point with its neighbour (byte-level BPE cutting an emoji or CJK character). */
  partial?: boolean;
}

/** A token as the tokenizer makes it: always with its id. */
export interface EncodedToken extends TraceToken {
  id: number;
}

/** Routing of one decoder layer. Dense layers carry nulls. */
export interface LayerRouting {
  /** The checkpoint's own 0-based layer number. */
  layer: number;
  kind: 'moe' | 'dense';
  /** Router logits W_r·x (+ b), [T][E]. */
  routerLogits: number[][] | null;
  /** The scores the family ranks by before any selection-only bias: softmax, sigmoid or raw logits, [T][E]. */
  scores: number[][] | null;
  /** Chosen experts, [T][k], in descending applied weight. */
  experts: number[][] | null;
  /** Gate weights exactly as the model multiplies the expert outputs, [T][k], aligned with `experts`; null in an imported trace whose source has none (npy). */
  weights: number[][] | null;
  /** Weight of the shared expert per token, [T] (σ(g·x) for Qwen2-MoE, 1 for DeepSeek), or null when the family has none. */
  sharedWeight: number[] | null;
  /**
   * What the router ranked by when that is not `scores`, [T][E]: DeepSeek-V3's σ(l) + e_score_correction_bias
   * for the experts of the groups it allowed, −∞ for the others. Absent for every other family.
   */
  selection?: number[][] | null;
}

export interface TraceModelInfo {
  /** Folder the checkpoint was loaded from, or "embedded" for the default model. */
  path: string;
  name: string;
  modelType: string;
  numLayers: number;
  numExperts: number;
  topK: number;
  vocabSize: number;
  gate: GateKind;
  /** One sentence a person can read: what the gate weight means for this family. */
  gateDescription: string;
  hasSharedExpert: boolean;
  /** Checkpoint layer numbers that are MoE layers. */
  moeLayers: number[];
  /** The MoE layer views show when the user chose none (the embedded model's most specialised layer); absent: the first MoE layer. */
  defaultLayer?: number;
}

/** A long document is analysed in overlapping windows of at most the model's context. */
export interface TraceWindow {
  /** Token index range [start, end) of this window within `tokens`. */
  start: number;
  end: number;
  /** The first `overlap` tokens of the window were context only: their routing comes from the previous window. */
  overlap: number;
}

export interface RoutingTrace {
  schema: typeof TRACE_SCHEMA;
  model: TraceModelInfo;
  /** Which TensorFlow.js backend ran: 'tensorflow' (tfjs-node), 'wasm' or 'cpu'. */
  backend: string;
  tokens: TraceToken[];
  layers: LayerRouting[];
  /** Surprisal −ln p(next token) in nats, per token; null for the last token (and a window's last). */
  surprisal: (number | null)[];
  /** Present when the sequence was split into windows. */
  windows?: TraceWindow[];
  /** LM-head output [T][V], only when asked for. */
  logits?: number[][];
  /** Wall-clock milliseconds, for status bars and benchmarks. */
  timing?: { tokenizeMs: number; forwardMs: number; totalMs: number };
}

/** JSON with non-finite numbers written as the strings "NaN", "Infinity", "-Infinity" (whole; see traceJson.ts for streams). */
export function traceToJson(trace: RoutingTrace, indent?: number): string {
  return [...traceJsonPieces(trace, indent)].join('');
}
