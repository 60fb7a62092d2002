// Select Model's GGUF entries, end to end but for the editor (fake vscode): the engine's own
// JSON-RPC server over an in-memory connection, with HOME, OLLAMA_MODELS and HF_HUB_CACHE pointing
// at a temp dir that holds a fake Ollama store, a GGUF repository in the Hugging Face cache and an
// LM Studio folder. The list shows each under its source with its name (Ollama's as name:tag),
// family and "GGUF"; picking the Ollama entry saves and loads that model's sha256 blob.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
// First: from here on `vscode` is the fake.
import { fake } from './helpers/fakeVscode';
import { registerCommands, type CommandDeps } from '../../../src/extension/commands';
import { createRealRuntime } from '../../../src/engine/rpc/realRuntime';
import { startEngineServer } from '../../../src/engine/rpc/server';
import {
  DescribeModelsRequest,
  ListModelsRequest,
  checkDescribeModelsResult,
  checkListModelsResult,
  type DescribeModelsParams,
} from '../../../src/shared/engineProtocol';
import { convertHfToGguf } from '../../../tools/gguf/convertHf';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-select-gguf-'));
const home = path.join(tmp, 'home');
const hub = path.join(tmp, 'hub');
const ollama = path.join(tmp, 'ollama');
const lmStudio = path.join(home, '.lmstudio', 'models');
const olmoe = path.join(tmp, 'olmoe.gguf');
const mixtral = path.join(tmp, 'mixtral.gguf');
after(() => rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  await convertHfToGguf(path.join(ROOT, 'test', 'fixtures', 'olmoe'), olmoe);
  await convertHfToGguf(path.join(ROOT, 'test', 'fixtures', 'mixtral'), mixtral);
  // Ollama: manifests/HOST/NAMESPACE/MODEL/TAG → the model layer's blobs/sha256-HEX.
  const hex = createHash('sha256').update(readFileSync(olmoe)).digest('hex');
  mkdirSync(path.join(ollama, 'blobs'), { recursive: true });
  copyFileSync(olmoe, path.join(ollama, 'blobs', `sha256-${hex}`));
  const manifestDir = path.join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'olmoe-tiny');
  mkdirSync(manifestDir, { recursive: true });
  const layers = [
    { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'0'.repeat(64)}`, size: 10 },
    { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: 1 },
  ];
  writeFileSync(path.join(manifestDir, '8x-f32'), JSON.stringify({ schemaVersion: 2, layers }));
  // Hugging Face cache: a GGUF repository whose snapshot links to its blob.
  const repo = path.join(hub, 'models--someone--Mixtral-tiny-GGUF');
  const snap = path.join(repo, 'snapshots', 'abc123');
  mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  mkdirSync(snap, { recursive: true });
  mkdirSync(path.join(repo, 'refs'), { recursive: true });
  writeFileSync(path.join(repo, 'refs', 'main'), 'abc123');
  copyFileSync(mixtral, path.join(repo, 'blobs', 'b1'));
  symlinkSync(path.join(repo, 'blobs', 'b1'), path.join(snap, 'mixtral-tiny-F32.gguf'));
  // LM Studio: PUBLISHER/REPO/FILE.gguf under ~/.lmstudio/models.
  mkdirSync(path.join(lmStudio, 'pub', 'OLMoE-tiny-GGUF'), { recursive: true });
  copyFileSync(olmoe, path.join(lmStudio, 'pub', 'OLMoE-tiny-GGUF', 'olmoe-tiny.gguf'));
});

interface Item {
  label: string;
  description?: string;
  detail?: string;
}

test('Select Model lists GGUF models from the HF cache, Ollama (name:tag) and LM Studio; an Ollama pick loads its blob', async () => {
  // The engine side: the real server and model descriptions (headers only); loading is recorded.
  const a = new PassThrough();
  const b = new PassThrough();
  const server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
  const client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
  const runtime = createRealRuntime(() => undefined);
  startEngineServer(server, runtime, { exit: () => undefined, env: { HOME: home, OLLAMA_MODELS: ollama, HF_HUB_CACHE: hub } });
  server.listen();
  client.listen();
  const loaded: (string | null)[] = [];
  const engine = {
    listModels: async () => checkListModelsResult(await client.sendRequest(ListModelsRequest.type, {})),
    describeModels: async (p: DescribeModelsParams) => checkDescribeModelsResult(await client.sendRequest(DescribeModelsRequest.type, p)),
    loadModel: (m: { path: string | null }) => {
      loaded.push(m.path);
      return Promise.resolve({ info: { name: 'olmoe-tiny', modelType: 'olmoe', numExperts: 8, topK: 2, path: m.path }, backend: 'cpu', cached: false, loadMs: 1 });
    },
  };
  // The editor side: a quick pick we drive, settings that keep what is saved, progress that runs.
  let accept = (): void => undefined;
  const shown: { items: Item[]; busy: boolean; selectedItems: Item[] } = { items: [], busy: false, selectedItems: [] };
  const quickPick = Object.assign(shown, {
    show() {},
    dispose() {},
    onDidAccept: (f: () => void) => {
      accept = f;
      return { dispose() {} };
    },
    onDidHide: () => ({ dispose() {} }),
  });
  const window = fake.module.window as Record<string, unknown>;
  window.createQuickPick = () => quickPick;
  window.withProgress = (_o: unknown, task: (p: unknown, t: unknown) => unknown) => task({ report() {} }, { onCancellationRequested() {} });
  const workspace = fake.module.workspace as Record<string, unknown>;
  const getConfiguration = workspace.getConfiguration as (s?: string) => Record<string, unknown>;
  workspace.getConfiguration = (section?: string) =>
    Object.assign(Object.create(getConfiguration(section)) as object, {
      update: (key: string, value: unknown) => {
        fake.settings.set(section ? `${section}.${key}` : key, { globalValue: value });
        return Promise.resolve();
      },
    });
  const analyzer = { modelParams: () => ({ path: (fake.settings.get('moeLens.modelPath')?.globalValue as string | undefined) ?? null, backend: 'cpu' }) };
  registerCommands({ subscriptions: [] } as never, { engine, analyzer, output: { warn() {} } } as unknown as CommandDeps);
  try {
    const done = (fake.handlers.get('moeLens.selectModel') as () => Promise<unknown>)();
    for (let i = 0; i < 2000 && (shown.items.length <= 3 || shown.busy); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(shown.busy, false, 'the list and its plans arrived');
    const labels = shown.items.map((i) => i.label);
    const ollamaLabel = '$(database) olmoe-tiny:8x-f32';
    const hubLabel = '$(database) someone/Mixtral-tiny-GGUF/mixtral-tiny-F32.gguf';
    const lmsLabel = '$(database) pub/OLMoE-tiny-GGUF/olmoe-tiny.gguf';
    assert.deepEqual(labels.slice(2), [
      '$(file-binary) Choose a GGUF file…',
      `Hugging Face cache (${hub})`,
      hubLabel,
      `Ollama (${ollama})`,
      ollamaLabel,
      `LM Studio (${lmStudio})`,
      lmsLabel,
    ]);
    const byLabel = new Map(shown.items.map((i) => [i.label, i]));
    assert.equal(byLabel.get('$(file-binary) Choose a GGUF file…')?.description, 'llama.cpp / Ollama / LM Studio model file (first split of a split model)');
    // Family, experts and k from the GGUF metadata; parameters and size from the headers; "GGUF".
    for (const [label, family] of [[ollamaLabel, 'olmoe'], [hubLabel, 'mixtral'], [lmsLabel, 'olmoe']]) {
      assert.match(byLabel.get(label)?.description ?? '', new RegExp(`^${family} · 8 experts, k=2 · [\\d.]+ [KMB]? ?params, [\\d.]+ [KMB]? ?active · [\\d.]+ [KMG]?B · GGUF$`), label);
    }
    const blob = byLabel.get(ollamaLabel)?.detail ?? '';
    assert.match(blob, new RegExp(`^resident, ≈ \\d+ MB of \\d+ MB — ${ollama.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/blobs/sha256-[0-9a-f]{64}$`), 'the detail names the blob');
    // Pick the Ollama entry: its blob path is saved as the model and loaded.
    shown.selectedItems = [byLabel.get(ollamaLabel) as Item];
    accept();
    assert.equal(await done, loaded[0]);
    const blobPath = blob.slice(blob.lastIndexOf('— ') + 2);
    assert.deepEqual(loaded, [blobPath]);
    assert.equal(fake.settings.get('moeLens.modelPath')?.globalValue, blobPath);
  } finally {
    client.dispose();
    server.dispose();
  }
});
