/**
 * @file Ids or text → a full RoutingTrace: tokenize, split into windows of at most the model's
 * context, run each window, and stitch the per-token results back into one sequence.
 */
import { COUNTERFACTUAL_SCHEMA, type CounterfactualDoc } from '../shared/counterfactual';
import { TRACE_SCHEMA, type LayerRouting, type RoutingTrace, type EncodedToken, type TraceWindow } from '../shared/trace';
import { resolveWindows, type WindowSettings } from '../shared/windowSettings';
import type { AnalysisCache } from './analysisCache';
import { summarize, type CounterfactualOptions } from './counterfactual';
import { expandMode, isCausal, parseMode } from './counterfactualModes';
import type { Model, RunOptions, RunResult } from './model';
import type { DocumentTokenizer, EncodeOptions } from './tokenizer/tokenizer';
import { appendLayer, sliceLayer } from './traceRows';
import { disposeState, reusablePositions, type CachedRun, type WindowState } from './windowCache';
import { planWindows } from './windows';

/** Long documents: the window settings as the user gave them, resolved by resolveWindows. */
export type TraceOptions = RunOptions &
  Partial<WindowSettings> & {
    /**
     * Live re-analysis: reuse what the last analysis of document `key` left in `store` (positions
     * before the first changed token, per window) and leave this one's there. Used only where the
     * model can (resident weights) and the run is plain (no logits, no routing override).
     */
    cache?: { store: AnalysisCache; key: string };
    /**
     * Called once with the trace of the document's first tokens (the last one's surprisal still null),
     * so a caller can show the top of a long document before the rest is analysed: with `cache`, the
     * first FIRST_TOKENS of a longer first window when nothing cached covers them (the rest of the
     * window then runs on their keys/values, exactly as one pass would); else, for a document of more
     * than one window, the first window. Its arrays are its own. The analysis goes on once a returned
     * promise settles: an engine process awaits the message being written, or its pipe would drain only
     * a chunk per layer while the forward pass runs.
     */
    onFirstWindow?: (partial: RoutingTrace) => void | Promise<void>;
  };

type WindowsResult = Pick<RoutingTrace, 'layers' | 'surprisal' | 'windows' | 'logits'>;

/** Tokens `onFirstWindow` gets first when the first window is longer (about a screen of an editor). */
export const FIRST_TOKENS = 512;

/** Runs the model over `ids` window by window; the result's tokens are the caller's. `firstWindow`: the first of several windows' result, copied. */
async function runWindows(model: Model, ids: number[], opts: TraceOptions, firstWindow?: (result: WindowsResult, end: number) => void | Promise<void>): Promise<WindowsResult> {
  const { size, overlap } = resolveWindows(opts, model);
  const windows: TraceWindow[] = ids.length <= size ? [{ start: 0, end: ids.length, overlap: 0 }] : planWindows(ids.length, size, overlap);
  let layers: LayerRouting[] = [];
  const surprisal: (number | null)[] = [];
  const logits: number[][] = [];
  let cache = opts.cache && model.runCached && !opts.withLogits && !opts.routing ? { ...opts.cache, run: model.runCached.bind(model) } : null;
  const made: WindowState[] = [];
  let handedOver = false;
  try {
    for (const [w, win] of windows.entries()) {
      const windowOpts: RunOptions = {
        ...opts,
        onProgress: (f, message) => opts.onProgress?.((w + f) / windows.length, windows.length > 1 ? `window ${w + 1}/${windows.length}: ${message}` : message),
      };
      const windowIds = ids.slice(win.start, win.end);
      let part: RunResult;
      if (cache) {
        let prev = cache.store.best(cache.key, windowIds);
        let head: WindowState | null = null;
        if (w === 0 && firstWindow && windowIds.length > (FIRST_TOKENS * 3) / 2 && reusablePositions(prev, windowIds) < FIRST_TOKENS) {
          // The top of the document first, then the rest of the window on its keys/values.
          const share = FIRST_TOKENS / windowIds.length;
          const report = windowOpts.onProgress;
          const scaled = (from: number, part: number): RunOptions['onProgress'] => (f, message) => report?.(from + part * f, message);
          head = (await cache.run(windowIds.slice(0, FIRST_TOKENS), prev, { ...windowOpts, onProgress: scaled(0, share) })).state;
          try {
            await firstWindow({ layers: head.result.layers.map((l) => sliceLayer(l, 0, FIRST_TOKENS)), surprisal: head.result.surprisal.slice(), windows: [{ start: 0, end: FIRST_TOKENS, overlap: 0 }] }, FIRST_TOKENS);
          } catch (err) {
            disposeState(head);
            throw err;
          }
          windowOpts.onProgress = scaled(share, 1 - share);
          prev = head;
          handedOver = true;
        }
        let run: CachedRun;
        try {
          run = await cache.run(windowIds, prev, windowOpts);
        } finally {
          if (head) {
            disposeState(head); // the window's own state holds copies of what it reused
          }
        }
        made.push(run.state);
        part = run.result;
        if (run.state.bytes > cache.store.capBytes) {
          // One window's keys/values exceed the cap (a big model): keeping them is pointless, and
          // making them costs memory the plan did not count. The rest of this run goes without.
          cache.store.discard(cache.key, made.splice(0));
          cache.store.drop(cache.key);
          cache = null;
        }
      } else {
        part = await model.run(windowIds, windowOpts);
      }
      const n = win.end - win.start;
      const own = part.layers.map((l) => sliceLayer(l, win.overlap, n));
      if (w === 0) {
        layers = own;
      } else {
        own.forEach((l, i) => appendLayer(layers[i], l));
        // The previous window's last token had no next token there; this window saw it as context.
        if (win.overlap > 0) {
          surprisal[win.start + win.overlap - 1] = part.surprisal[win.overlap - 1];
        }
      }
      surprisal.push(...part.surprisal.slice(win.overlap));
      if (part.logits) {
        logits.push(...part.logits.slice(win.overlap));
      }
      if (w === 0 && windows.length > 1 && firstWindow && !handedOver) {
        await firstWindow({ layers: layers.map((l) => sliceLayer(l, 0, n)), surprisal: surprisal.slice(), windows: [win], ...(opts.withLogits ? { logits: logits.slice() } : {}) }, n);
      }
    }
  } catch (err) {
    cache?.store.discard(cache.key, made);
    throw err;
  }
  cache?.store.put(cache.key, made);
  return {
    layers,
    surprisal,
    ...(windows.length > 1 ? { windows } : {}),
    ...(opts.withLogits ? { logits } : {}),
  };
}

/** The trace around the windows' results, in the key order the JSON output shows. */
function assembleTrace(model: Model, tokens: EncodedToken[], result: WindowsResult, timing: NonNullable<RoutingTrace['timing']>): RoutingTrace {
  return { schema: TRACE_SCHEMA, model: model.info, backend: model.backend, tokens, ...result, timing };
}

/** What runWindows calls with the first tokens' result: opts.onFirstWindow with their trace. */
function handOver(model: Model, tokens: EncodedToken[], opts: TraceOptions, t0: number, t1: number): ((partial: WindowsResult, end: number) => void | Promise<void>) | undefined {
  const give = opts.onFirstWindow;
  if (!give) {
    return undefined;
  }
  return (partial, end) => {
    const now = performance.now();
    return give(assembleTrace(model, tokens.slice(0, end), partial, { tokenizeMs: t1 - t0, forwardMs: now - t1, totalMs: now - t0 }));
  };
}

/** A trace of token ids (no document: spans are null; text comes from the tokenizer when given). */
export async function traceIds(model: Model, ids: number[], opts: TraceOptions & { tokenizer?: DocumentTokenizer } = {}): Promise<RoutingTrace> {
  const t0 = performance.now();
  const tokens: EncodedToken[] = ids.map((id) => ({ id, text: opts.tokenizer ? opts.tokenizer.tokenText(id) : null, start: null, end: null }));
  const result = await runWindows(model, ids, opts, handOver(model, tokens, opts, t0, t0));
  const ms = performance.now() - t0;
  return assembleTrace(model, tokens, result, { tokenizeMs: 0, forwardMs: ms, totalMs: ms });
}

/** A trace of a document: tokens carry their text and [start, end) spans in the document. */
export async function traceText(
  model: Model,
  tokenizer: DocumentTokenizer,
  text: string,
  opts: TraceOptions & { encode?: EncodeOptions } = {},
): Promise<RoutingTrace> {
  const t0 = performance.now();
  const tokens = await tokenizer.encode(text, opts.encode);
  if (tokens.length === 0) {
    throw new Error('the text produced no tokens');
  }
  const t1 = performance.now();
  const result = await runWindows(
    model,
    tokens.map((t) => t.id),
    opts,
    handOver(model, tokens, opts, t0, t1),
  );
  const t2 = performance.now();
  return assembleTrace(model, tokens, result, { tokenizeMs: t1 - t0, forwardMs: t2 - t1, totalMs: t2 - t0 });
}

/**
 * One counterfactual mode (`topk:2@3`, `sweep-k`, …; see counterfactualModes.ts) on one window of
 * ids: the document the CLI prints and an engine request returns. A sweep gives one summary row per pass.
 */
export async function counterfactualIds(
  model: Model,
  ids: number[],
  mode: string,
  opts: Omit<CounterfactualOptions, 'summaryOnly'> = {},
): Promise<CounterfactualDoc> {
  const parsed = parseMode(mode);
  const passes = expandMode(parsed, model.info);
  if (ids.length > model.maxContext) {
    // Expert choice and capacity count over one window; stitched windows would each count alone.
    throw new Error(`counterfactuals run on one window: ${ids.length} tokens exceed the model's context of ${model.maxContext}; give a shorter text`);
  }
  const head = { schema: COUNTERFACTUAL_SCHEMA, mode, causal: isCausal(parsed) } as const;
  if (parsed.kind !== 'passes') {
    const results = await model.counterfactual(ids, passes, { ...opts, summaryOnly: true });
    return { ...head, passes: results.map(summarize) };
  }
  const [r] = await model.counterfactual(ids, passes, opts);
  return { ...head, kl: r.kl, surprisalDelta: r.surprisalDelta, layers: r.layers ?? [] };
}
