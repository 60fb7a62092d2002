// The host's counterfactual controller on a fake engine: one request per analysis window with the
// combined progress, results laid over the trace, cancel drops partial results, a new analysis
// drops old ones, and a choice the model cannot run never reaches the engine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// First: from here on `vscode` is the fake.
import { fake } from './helpers/fakeVscode';
import { Counterfactuals } from '../../../src/extension/counterfactuals';
import { CancelledError, type EngineClient } from '../../../src/extension/engineClient';
import { RoutingStore } from '../../../src/extension/routingStore';
import { COUNTERFACTUAL_SCHEMA } from '../../../src/shared/counterfactual';
import type { CounterfactualParams, CounterfactualResult, ProgressParams } from '../../../src/shared/engineProtocol';
import type { CounterfactualState } from '../../../src/shared/counterfactualView';
import type { RoutingTrace } from '../../../src/shared/trace';
import { fakeTrace } from './helpers/fakeTrace';

const m = fake.module as Record<string, unknown>;
const reported: string[] = [];
Object.assign(m.window as object, {
  withProgress: async (_o: unknown, task: (p: { report(v: { message?: string }): void }, t: { onCancellationRequested(f: () => void): { dispose(): void } }) => Promise<unknown>) =>
    task({ report: (v) => void reported.push(v.message ?? '') }, { onCancellationRequested: () => ({ dispose() {} }) }),
  showErrorMessage: async () => undefined,
});
m.Uri = { parse: (s: string) => ({ path: new URL(s).pathname }) };

const URI = 'file:///doc.md';
const output = { info() {}, error() {} } as never;

/** A stand-in engine: answers each request from `answer`, with two progress reports on the way. */
function fakeEngine(answer: (p: CounterfactualParams, signal?: AbortSignal) => Promise<CounterfactualResult>): { engine: EngineClient; calls: CounterfactualParams[] } {
  const listeners = new Set<(p: ProgressParams) => void>();
  const calls: CounterfactualParams[] = [];
  const engine = {
    onDidProgress: (l: (p: ProgressParams) => void) => {
      listeners.add(l);
      return { dispose: () => void listeners.delete(l) };
    },
    async counterfactual(_model: unknown, p: CounterfactualParams, signal?: AbortSignal) {
      calls.push(p);
      listeners.forEach((l) => l({ progressId: p.progressId!, fraction: 0.5, message: 'half' }));
      return answer(p, signal);
    },
  } as unknown as EngineClient;
  return { engine, calls };
}

/** What the engine would answer for a window text: tokens split like fakeTrace, KL = 0.1 per token. */
function passFor(p: CounterfactualParams): CounterfactualResult {
  const tokens = fakeTrace(p.text).tokens;
  return {
    tokens,
    counterfactual: {
      schema: COUNTERFACTUAL_SCHEMA,
      mode: p.mode,
      causal: true,
      kl: tokens.map(() => 0.1),
      surprisalDelta: tokens.map((_, j) => (j + 1 < tokens.length ? 0.2 : null)),
      layers: [{ layer: 0, experts: tokens.map(() => [1]), weights: tokens.map(() => [1]) }],
    },
  };
}

function setup(answer: Parameters<typeof fakeEngine>[0], trace?: RoutingTrace, text = 'alpha beta gamma'): { cf: Counterfactuals; store: RoutingStore; calls: CounterfactualParams[]; states: CounterfactualState[] } {
  const store = new RoutingStore();
  store.set({ uri: URI, version: 1, text, languageId: 'markdown', trace: trace ?? fakeTrace(text) });
  const { engine, calls } = fakeEngine(answer);
  const cf = new Counterfactuals(store, engine, { modelParams: () => ({ path: null, backend: 'auto' }) }, output);
  const states: CounterfactualState[] = [];
  cf.onDidChange((e) => states.push(e.state));
  return { cf, store, calls, states };
}

describe('Counterfactuals (host)', () => {
  it('runs a pass over the analysed text, shows running then the result, and feeds the hover', async () => {
    const { cf, calls, states } = setup(async (p) => passFor(p));
    await cf.run(URI, { kind: 'topk', k: 1 });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.text, 'alpha beta gamma');
    assert.equal(calls[0]!.mode, 'topk:1');
    assert.ok(states[0]!.running, 'first: running');
    const last = states.at(-1)!;
    assert.equal(last.running, null);
    assert.equal(last.note, null);
    assert.deepEqual(last.active?.kl, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
    assert.equal(cf.active(URI), last.active);
    // Back to the model's routing: no engine call.
    await cf.run(URI, { kind: 'model' });
    assert.equal(calls.length, 1);
    assert.equal(cf.active(URI), null);
  });

  it('a trace analysed in windows is re-run per window, with progress over all of them', async () => {
    const text = 'aa bb cc dd ee ff';
    const trace = fakeTrace(text);
    trace.windows = [
      { start: 0, end: 7, overlap: 0 },
      { start: 5, end: trace.tokens.length, overlap: 2 },
    ];
    reported.length = 0;
    const { cf, calls, states } = setup(async (p) => passFor(p), trace, text);
    await cf.run(URI, { kind: 'dense' });
    assert.deepEqual(calls.map((c) => c.text), ['aa bb cc ', 'cc dd ee ff']);
    assert.deepEqual(reported, ['window 1/2: half', 'window 2/2: half']);
    const active = states.at(-1)!.active!;
    assert.equal(active.windows, 2);
    assert.ok(active.kl.slice(1).every((x) => x === 0.1), 'every spanned token covered');
  });

  it('cancel stops a sweep: nothing partial is kept, the note says so, earlier results stay', async () => {
    let started!: () => void;
    const begun = new Promise<void>((r) => (started = r));
    const { cf, states } = setup(async (p, signal) => {
      if (p.mode === 'topk:1') {
        return passFor(p);
      }
      started();
      await new Promise((_, reject) => signal!.addEventListener('abort', () => reject(new CancelledError())));
      throw new Error('unreachable');
    });
    await cf.run(URI, { kind: 'topk', k: 1 });
    const before = cf.active(URI);
    const run = cf.run(URI, { kind: 'sweep-k' });
    await begun;
    cf.cancel(URI);
    await run;
    const last = states.at(-1)!;
    assert.equal(last.kSweep, null);
    assert.equal(last.running, null);
    assert.match(last.note!, /sweep-k: cancelled; partial results discarded/);
    assert.equal(cf.active(URI), before, 'the earlier pass is still shown');
  });

  it('a new analysis of the document drops its results; a choice the model cannot run never reaches the engine', async () => {
    const { cf, store, calls, states } = setup(async (p) => passFor(p));
    await cf.run(URI, { kind: 'topk', k: 1 });
    assert.ok(cf.active(URI));
    store.set({ uri: URI, version: 2, text: 'alpha beta', languageId: 'markdown', trace: fakeTrace('alpha beta') });
    assert.equal(cf.active(URI), null);
    assert.equal(states.at(-1)!.active, null);
    await cf.run(URI, { kind: 'topk', k: 99 });
    assert.equal(calls.length, 1);
    assert.match(cf.get(URI).note!, /topk:99: k must be 1…8/);
  });

  it('a run on another model than the analysis is refused, not laid over it', async () => {
    const { cf, store } = setup(async (p) => passFor(p));
    const engine = (cf as unknown as { engine: { loadedModel?: unknown } }).engine;
    engine.loadedModel = { info: { path: '/models/other' } };
    await cf.run(URI, { kind: 'dense' });
    assert.equal(cf.active(URI), null);
    assert.match(cf.get(URI).note!, /the model changed since the analysis \(fake → \/models\/other\)/);
    engine.loadedModel = { info: { path: store.get(URI)!.trace.model.path } };
    await cf.run(URI, { kind: 'dense' });
    assert.ok(cf.active(URI));
  });

  it('a failure is a note, not a result', async () => {
    const { cf } = setup(async () => {
      throw new Error('the text produced no tokens');
    });
    await cf.run(URI, { kind: 'dense' });
    assert.equal(cf.get(URI).active, null);
    assert.equal(cf.get(URI).note, 'dense: the text produced no tokens');
  });
});
