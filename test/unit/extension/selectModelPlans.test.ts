// Select Model (fake vscode, fake engine): the list shows each cached model's parameters, size on
// disk and memory plan as the engine describes it from the headers (the embedded model's too),
// asked in one describeModels request for the models with safetensors weights.
import assert from 'node:assert/strict';
import { test } from 'node:test';
// First: from here on `vscode` is the fake.
import { fake } from './helpers/fakeVscode';
import { registerCommands, type CommandDeps } from '../../../src/extension/commands';
import type { CachedModel, DescribeModelsParams, DescribeModelsResult } from '../../../src/shared/engineProtocol';
import type { PlanFacts } from '../../../src/shared/modelPlanText';

const MB = 2 ** 20;
const plan = (mode: PlanFacts['mode'], holdMb: number): PlanFacts => ({
  mode, refusal: mode === 'refused' ? 'this model needs at least 1282 MB …' : null, budgetBytes: 1024 * MB, diskBytes: 13.84e9, storedBytes: 13.84e9,
  dtypes: ['BF16'], totalParams: 6.92e9, activeParams: 1.28e9, minimumBytes: 1282 * MB, holdBytes: holdMb * MB, cachedLayers: 0,
});

test('Select Model lists the plan of every model, from one describeModels request', async () => {
  const models: CachedModel[] = [
    { repoId: 'allenai/OLMoE-1B-7B-0924', path: '/hub/olmoe', modelType: 'olmoe', experts: 64, topK: 8, sizeBytes: 13.84e9, safetensors: true, format: 'safetensors', source: 'huggingface' },
    { repoId: 'x/pickled', path: '/hub/pickled', modelType: 'mixtral', experts: 8, topK: 2, sizeBytes: 1e9, safetensors: false, format: null, source: 'huggingface' },
  ];
  const asked: DescribeModelsParams[] = [];
  const engine = {
    listModels: () => Promise.resolve({ hubDir: '/hub', ollamaDir: null, lmStudioDir: null, models }),
    describeModels: (p: DescribeModelsParams): Promise<DescribeModelsResult> => {
      asked.push(p);
      const info = (mode: PlanFacts['mode'], hold: number) => ({ path: '/x', modelType: 'olmoe', numLayers: 16, numExperts: 64, topK: 8, plan: plan(mode, hold) });
      return Promise.resolve({ models: [{ path: null, info: info('streamed', 430), error: null }, { path: '/hub/olmoe', info: info('refused', 0), error: null }] });
    },
  };
  let hide = (): void => undefined;
  const shown: { items: { label: string; description?: string; detail?: string }[]; busy: boolean } = { items: [], busy: false };
  const quickPick = Object.assign(shown, {
    show() {},
    dispose() {},
    onDidAccept: () => ({ dispose() {} }),
    onDidHide: (f: () => void) => {
      hide = f;
      return { dispose() {} };
    },
    selectedItems: [],
  });
  (fake.module.window as Record<string, unknown>).createQuickPick = () => quickPick;
  const context = { subscriptions: [] as unknown[] };
  const analyzer = { modelParams: () => ({ path: null, backend: 'auto' }) };
  registerCommands(context as never, { engine, analyzer, output: { warn() {} } } as unknown as CommandDeps);
  const done = (fake.handlers.get('moeLens.selectModel') as () => Promise<unknown>)();
  for (let i = 0; i < 100 && (asked.length === 0 || shown.busy); i++) {
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(asked, [{ paths: [null, '/hub/olmoe'], backend: 'auto' }], 'one request, only the safetensors models and the embedded one');
  const byLabel = new Map(shown.items.map((i) => [i.label, i]));
  assert.equal(byLabel.get('$(package) Embedded demo model')?.detail, 'streamed from disk, ≈ 430 MB of 1024 MB — embedded');
  const olmoe = byLabel.get('$(database) allenai/OLMoE-1B-7B-0924');
  assert.equal(olmoe?.description, 'olmoe · 64 experts, k=8 · 6.92 B params, 1.28 B active · 13 GB');
  assert.equal(olmoe?.detail, 'needs at least 1282 MB (budget 1024 MB) — /hub/olmoe');
  assert.equal(byLabel.get('$(database) x/pickled')?.detail, '/hub/pickled — no .safetensors weights (not supported)');
  hide();
  assert.equal(await done, undefined);
});
