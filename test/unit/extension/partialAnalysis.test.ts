// The Analyzer and a long document's first window (fake vscode, fake engine): the first window's trace
// is stored as soon as the engine hands it over, the full trace replaces it, a run that fails takes it
// away again, and one that arrives after the answer (or for another request) is ignored.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
// First: from here on `vscode` is the fake.
import { fake } from './helpers/fakeVscode';
import { Analyzer } from '../../../src/extension/analyzer';
import type { EngineClient } from '../../../src/extension/engineClient';
import type { RoutingStore } from '../../../src/extension/routingStore';
import type { RoutingTrace } from '../../../src/shared/trace';

const window = fake.module.window as Record<string, unknown>;
window.withProgress = (_o: unknown, fn: (p: unknown, t: unknown) => Promise<unknown>) => fn({ report() {} }, { onCancellationRequested: () => ({ dispose() {} }) });
window.showErrorMessage = () => Promise.resolve(undefined);
const output = { info() {}, warn() {}, error() {}, show() {} };
const analyzers: Analyzer[] = [];

type Partial = (p: { progressId: string; trace: RoutingTrace }) => void;
const trace = (name: string): RoutingTrace => ({ tokens: [], layers: [], backend: name }) as unknown as RoutingTrace;

/** `script(progressId, hand)` plays the engine's part of one analyze request. */
function setup(script: (progressId: string, hand: Partial) => Promise<RoutingTrace>) {
  const listeners: Partial[] = [];
  const hand: Partial = (p) => listeners.forEach((l) => l(p));
  const engine = {
    analyze: async (_m: unknown, params: { progressId: string }) => ({ trace: await script(params.progressId, hand) }),
    onDidProgress: () => ({ dispose() {} }),
    onDidPartialTrace: (l: Partial) => {
      listeners.push(l);
      return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
    },
  };
  const log: string[] = [];
  let current: { uri: string; trace: RoutingTrace } | undefined;
  const store = {
    get: () => current,
    set: (a: { uri: string; trace: RoutingTrace }) => {
      current = a;
      log.push(`set ${a.trace.backend}`);
    },
    clear: () => {
      current = undefined;
      log.push('clear');
    },
    selectLayer() {},
  };
  const analyzer = new Analyzer(store as unknown as RoutingStore, engine as unknown as EngineClient, output as never);
  analyzers.push(analyzer);
  const doc = { uri: { toString: () => 'file:///long.md', path: '/long.md', scheme: 'file' }, version: 1, getText: () => 'words '.repeat(400), isClosed: false, languageId: 'markdown' };
  return { analyzer, log, doc: doc as never };
}

afterEach(() => {
  analyzers.splice(0).forEach((a) => a.dispose());
  fake.settings.clear();
});

describe("a long document's first window", () => {
  it('is stored when handed over, then the full trace replaces it', async () => {
    const { analyzer, log, doc } = setup(async (id, hand) => {
      hand({ progressId: 'someone else', trace: trace('other') });
      hand({ progressId: id, trace: trace('first window') });
      return trace('full');
    });
    assert.equal(await analyzer.analyze(doc, true), true);
    assert.deepEqual(log, ['set first window', 'set full']);
  });

  it('is taken away when the run fails', async () => {
    const { analyzer, log, doc } = setup(async (id, hand) => {
      hand({ progressId: id, trace: trace('first window') });
      throw new Error('the engine failed');
    });
    assert.equal(await analyzer.analyze(doc, true), false);
    assert.deepEqual(log, ['set first window', 'clear']);
  });

  it('is ignored when it comes after the answer', async () => {
    let late: (() => void) | undefined;
    const { analyzer, log, doc } = setup(async (id, hand) => {
      late = () => hand({ progressId: id, trace: trace('late') });
      return trace('full');
    });
    assert.equal(await analyzer.analyze(doc, true), true);
    late?.();
    assert.deepEqual(log, ['set full']);
  });
});
