// The Analyzer with a model that streams from disk (fake vscode, fake engine): the Analyze command
// asks once in a modal that shows bytes and time, and runs only on yes; live mode and
// analyze-on-open (non-interactive analyses) never run it; a resident model is never asked about.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
// First: from here on `vscode` is the fake.
import { fake } from './helpers/fakeVscode';
import { Analyzer } from '../../../src/extension/analyzer';
import type { EngineClient } from '../../../src/extension/engineClient';
import type { RoutingStore } from '../../../src/extension/routingStore';
import type { DescribeModelsParams, DescribeModelsResult } from '../../../src/shared/engineProtocol';
import type { MemoryMode } from '../../../src/shared/modelPlanText';

const window = fake.module.window as Record<string, unknown>;
const modals: { message: string; options: { modal?: boolean; detail?: string }; items: string[] }[] = [];
let answer: string | undefined;
window.showWarningMessage = (message: string, options: { modal?: boolean; detail?: string }, ...items: string[]) => {
  modals.push({ message, options, items });
  return Promise.resolve(answer);
};
window.withProgress = (_o: unknown, fn: (p: unknown, t: unknown) => Promise<unknown>) => fn({ report() {} }, { onCancellationRequested: () => ({ dispose() {} }) });
window.showErrorMessage = () => Promise.resolve(undefined);

const output = { info() {}, warn() {}, error() {}, show() {} };
const analyzers: Analyzer[] = [];

function setup(mode: MemoryMode) {
  const analysed: string[] = [];
  const described: DescribeModelsParams[] = [];
  const plan = { mode, refusal: null, budgetBytes: 3072 * 2 ** 20, diskBytes: 13.84e9, storedBytes: 13.84e9, dtypes: ['BF16'], totalParams: 6.92e9, activeParams: 1.28e9, minimumBytes: 2 ** 30, holdBytes: 3010 * 2 ** 20, cachedLayers: 0 };
  const engine = {
    describeModels: (p: DescribeModelsParams): Promise<DescribeModelsResult> => {
      described.push(p);
      return Promise.resolve({ models: [{ path: p.paths[0], info: { path: '/m/olmoe', modelType: 'olmoe', numLayers: 16, numExperts: 64, topK: 8, plan }, error: null }] });
    },
    analyze: (_m: unknown, params: { text: string }) => {
      analysed.push(params.text);
      return Promise.resolve({ trace: { tokens: [], layers: [], backend: 'cpu' } });
    },
    onDidProgress: () => ({ dispose() {} }),
  };
  const stored: string[] = [];
  const store = { get: () => undefined, set: (a: { uri: string }) => stored.push(a.uri), clear() {}, selectLayer() {} };
  const analyzer = new Analyzer(store as unknown as RoutingStore, engine as unknown as EngineClient, output as never);
  analyzers.push(analyzer);
  const doc = { uri: { toString: () => 'file:///doc.txt', path: '/doc.txt', scheme: 'file' }, version: 1, getText: () => 'x'.repeat(4000), isClosed: false, languageId: 'plaintext' };
  return { analyzer, analysed, described, stored, doc: doc as never };
}

afterEach(() => {
  modals.length = 0;
  answer = undefined;
  analyzers.splice(0).forEach((a) => a.dispose());
  fake.settings.clear();
});

describe('a model that streams from disk', () => {
  it('the Analyze command asks in a modal with the bytes and the time; no means no analysis', async () => {
    fake.settings.set('moeLens.modelPath', { globalValue: '/m/olmoe' });
    const { analyzer, analysed, described, doc } = setup('streamed');
    assert.equal(await analyzer.analyze(doc, true), false);
    assert.deepEqual(analysed, []);
    assert.equal(modals.length, 1);
    assert.equal(modals[0].options.modal, true);
    assert.deepEqual(modals[0].items, ['Analyse']);
    assert.match(modals[0].message, /^Analyse with olmoe\? It is streamed from disk: it does not fit the memory budget of 3072 MB\.$/);
    assert.match(modals[0].options.detail ?? '', /reads up to 13\.84 GB .*about 1,000 tokens.* should take about 13 min/);
    assert.equal(described[0].paths[0], '/m/olmoe', "the plan of the model the settings name, asked of the engine");
  });

  it('yes runs it, and the next analysis of that model is not asked again', async () => {
    const { analyzer, analysed, stored, doc } = setup('streamed');
    answer = 'Analyse';
    assert.equal(await analyzer.analyze(doc, true), true);
    assert.equal(await analyzer.analyze(doc, true), true);
    assert.equal(modals.length, 1);
    assert.equal(analysed.length, 2);
    assert.deepEqual(stored, ['file:///doc.txt', 'file:///doc.txt']);
  });

  it('live mode and analyze-on-open (non-interactive) never run it, even after a yes, and never ask', async () => {
    const { analyzer, analysed, doc } = setup('streamed');
    assert.equal(await analyzer.analyze(doc, false), false);
    answer = 'Analyse';
    await analyzer.analyze(doc, true);
    assert.equal(await analyzer.analyze(doc, false), false);
    assert.equal(analysed.length, 1, 'only the confirmed command ran');
    assert.equal(modals.length, 1);
  });
});

describe('a model held in memory', () => {
  it('is analysed on command and live without a question', async () => {
    const { analyzer, analysed, doc } = setup('resident');
    assert.equal(await analyzer.analyze(doc, true), true);
    assert.equal(await analyzer.analyze(doc, false), true);
    assert.deepEqual([modals.length, analysed.length], [0, 2]);
  });
});
