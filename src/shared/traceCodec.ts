/**
 * @file What of a trace travels on each hop and what the receiver derives, decided here once.
 *
 * - engine → host: everything the engine computed, matrices packed as base64 (tracePacking.ts);
 *   the host unpacks it through the one validator (traceCheck.ts).
 * - host → webview (`slimTrace`): no LM-head logits (no panel draws them) and no scores where the
 *   gate's scores are softmax(router logits), which halves the message whose delivery is most of a
 *   large document's first render. Sigmoid and raw-logit scores and DeepSeek's `selection` travel:
 *   they are not derivable from the logits alone. The webview validates with the same validator.
 * - webview: scores derived again from the logits, for all tokens (`restoreScores`) or one row at a
 *   time (`scoresRow` in routerMath.ts).
 * - file: `moe-lens trace` writes the full trace as JSON (non-finite numbers as strings);
 *   `readTraceJson` parses and validates a saved one.
 */
import { scoresAreSoftmax, softmax } from './routerMath';
import { checkTrace, TraceError } from './traceCheck';
import type { RoutingTrace } from './trace';

/** Host side: the trace as a panel receives it (the host's copy is left alone). */
export function slimTrace(trace: RoutingTrace): RoutingTrace {
  const derivable = scoresAreSoftmax(trace.model.gate);
  const slim: RoutingTrace = {
    ...trace,
    layers: trace.layers.map((l) => (derivable && l.routerLogits ? { ...l, scores: null } : l)),
  };
  delete slim.logits;
  return slim;
}

/** Webview side, after validation: puts back the scores `slimTrace` left out (in place). */
export function restoreScores(trace: RoutingTrace): RoutingTrace {
  if (scoresAreSoftmax(trace.model.gate)) {
    for (const l of trace.layers) {
      if (l.scores === null && l.routerLogits) {
        l.scores = l.routerLogits.map((row) => softmax(row));
      }
    }
  }
  return trace;
}

/** A saved trace (the JSON `moe-lens trace` writes), parsed and validated; throws a `TraceError`. */
export function readTraceJson(text: string): RoutingTrace {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the file; say only what is wrong.
    throw new TraceError('trace: not valid JSON (truncated or corrupt)');
  }
  return checkTrace(json);
}
