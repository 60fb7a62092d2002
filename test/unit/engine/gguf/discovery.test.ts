/**
 * Finding GGUF models where people keep them: a fake Ollama store (manifests → the model layer's
 * sha256 blob, listed as name:tag; missing blobs, other layers and hostile digests skipped), GGUF
 * repositories in the Hugging Face cache (splits listed once, vision projectors not at all) and LM
 * Studio's folder; every listed path loads as a model.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scanHubGguf } from '../../../../src/engine/discovery/hfGguf';
import { scanLmStudio } from '../../../../src/engine/discovery/lmStudio';
import { defaultOllamaDir, ollamaName, scanOllama } from '../../../../src/engine/discovery/ollama';
import { loadModel } from '../../../../src/engine/model';
import { convertHfToGguf } from '../../../../tools/gguf/convertHf';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-gguf-discovery-'));
const olmoe = path.join(tmp, 'olmoe.gguf');
const mixtral = path.join(tmp, 'mixtral.gguf');
after(() => rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  await convertHfToGguf(path.join(ROOT, 'test', 'fixtures', 'olmoe'), olmoe);
  await convertHfToGguf(path.join(ROOT, 'test', 'fixtures', 'mixtral'), mixtral);
});

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Writes blobs/sha256-HEX and a manifest naming it as the model layer (plus a template layer). */
function ollamaModel(store: string, parts: [string, string, string, string], gguf: string | null, digest?: string): void {
  const hex = gguf ? sha256(gguf) : 'f'.repeat(64);
  if (gguf) {
    mkdirSync(path.join(store, 'blobs'), { recursive: true });
    copyFileSync(gguf, path.join(store, 'blobs', `sha256-${hex}`));
  }
  const dir = path.join(store, 'manifests', ...parts.slice(0, 3));
  mkdirSync(dir, { recursive: true });
  const layers = [
    { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'0'.repeat(64)}`, size: 10 },
    { mediaType: 'application/vnd.ollama.image.model', digest: digest ?? `sha256:${hex}`, size: 1 },
  ];
  writeFileSync(path.join(dir, parts[3]), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', layers }));
}

describe('Ollama store', () => {
  it('lists each model by name and tag with its family, experts and k; its blob loads and runs', async () => {
    const store = path.join(tmp, 'ollama');
    ollamaModel(store, ['registry.ollama.ai', 'library', 'olmoe-tiny', 'latest'], olmoe);
    ollamaModel(store, ['registry.ollama.ai', 'someone', 'mixtral-tiny', 'f32'], mixtral);
    ollamaModel(store, ['registry.ollama.ai', 'library', 'gone', 'latest'], null); // blob never pulled
    ollamaModel(store, ['registry.ollama.ai', 'library', 'evil', 'latest'], null, 'sha256:../../../../etc/passwd');
    const models = await scanOllama(store);
    assert.deepEqual(
      models.map((m) => [m.repoId, m.modelType, m.experts, m.topK, m.source, m.format]),
      [
        ['olmoe-tiny:latest', 'olmoe', 8, 2, 'ollama', 'gguf'],
        ['someone/mixtral-tiny:f32', 'mixtral', 8, 2, 'ollama', 'gguf'],
      ],
    );
    assert.match(models[0].path, /blobs[/\\]sha256-[0-9a-f]{64}$/);
    const model = await loadModel(models[0].path, { backend: 'cpu' });
    try {
      const r = await model.run([1, 2, 3, 4]);
      assert.equal(r.layers.length, 3);
    } finally {
      model.dispose();
    }
  });

  it('OLLAMA_MODELS wins; a host other than the registry keeps its name', () => {
    assert.equal(defaultOllamaDir({ OLLAMA_MODELS: '/x/models' }), '/x/models');
    assert.equal(ollamaName(['example.com:5000', 'team', 'qwen3', '30b-a3b']), 'example.com:5000/team/qwen3:30b-a3b');
    assert.equal(ollamaName(['registry.ollama.ai', 'library', 'qwen3', '30b-a3b']), 'qwen3:30b-a3b');
  });
});

describe('Hugging Face cache and LM Studio', () => {
  it('GGUF repositories in the hub cache: files by name, a split model once, no vision projector', async () => {
    const hub = path.join(tmp, 'hub');
    const repo = path.join(hub, 'models--someone--OLMoE-tiny-GGUF');
    const snap = path.join(repo, 'snapshots', 'abc123');
    mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    mkdirSync(path.join(snap, 'Q8'), { recursive: true });
    mkdirSync(path.join(repo, 'refs'), { recursive: true });
    writeFileSync(path.join(repo, 'refs', 'main'), 'abc123');
    copyFileSync(olmoe, path.join(repo, 'blobs', 'b1'));
    symlinkSync(path.join(repo, 'blobs', 'b1'), path.join(snap, 'olmoe-tiny-F32.gguf')); // the hub links snapshots to blobs
    copyFileSync(olmoe, path.join(snap, 'Q8', 'olmoe-tiny-00001-of-00002.gguf'));
    writeFileSync(path.join(snap, 'Q8', 'olmoe-tiny-00002-of-00002.gguf'), 'GGUF');
    copyFileSync(olmoe, path.join(snap, 'mmproj-olmoe-tiny.gguf'));
    const models = await scanHubGguf(hub);
    assert.deepEqual(
      models.map((m) => [m.repoId, m.modelType, m.source]),
      [
        ['someone/OLMoE-tiny-GGUF/olmoe-tiny-F32.gguf', 'olmoe', 'huggingface'],
        ['someone/OLMoE-tiny-GGUF/Q8/olmoe-tiny-00001-of-00002.gguf', 'olmoe', 'huggingface'],
      ],
    );
  });

  it("LM Studio's folder: PUBLISHER/REPO/FILE.gguf", async () => {
    const lms = path.join(tmp, 'lmstudio');
    mkdirSync(path.join(lms, 'pub', 'Mixtral-tiny-GGUF'), { recursive: true });
    copyFileSync(mixtral, path.join(lms, 'pub', 'Mixtral-tiny-GGUF', 'mixtral-tiny.gguf'));
    writeFileSync(path.join(lms, 'pub', 'Mixtral-tiny-GGUF', 'notes.gguf'), 'not a gguf file');
    const models = await scanLmStudio(lms);
    assert.deepEqual(
      models.map((m) => [m.repoId, m.modelType, m.experts, m.source]),
      [['pub/Mixtral-tiny-GGUF/mixtral-tiny.gguf', 'mixtral', 8, 'lmstudio']],
    );
  });
});
