import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultHubDir, expertsFromConfig, scanHubCache } from '../../../src/engine/rpc/hfCache';
import { isInside } from '../../../src/shared/insidePath';
import {
  ProtocolError,
  checkAnalyzeParams,
  checkDescribeModelsParams,
  checkDescribeModelsResult,
  checkLoadModelParams,
  checkProgressParams,
} from '../../../src/shared/engineProtocol';
import { checkTrace, TraceError } from '../../../src/shared/traceCheck';
import { fakeTrace } from './helpers/fakeTrace';

describe('engine protocol validation', () => {
  it('accepts good params and rejects bad ones with the field named', () => {
    assert.deepEqual(checkLoadModelParams({ path: null, backend: 'auto' }), { path: null, backend: 'auto' });
    assert.throws(() => checkLoadModelParams({ path: '', backend: 'auto' }), /path/);
    assert.throws(() => checkLoadModelParams({ path: '/m', backend: 'gpu' }), /backend/);
    assert.throws(() => checkLoadModelParams({ path: '/m', backend: 'cpu', forbiddenRoots: [1] }), /forbiddenRoots/);
    assert.throws(() => checkLoadModelParams(null), ProtocolError);
    const ok = { text: 'x', windowSize: 512, windowOverlap: 64, specialTokensInText: 'text' };
    assert.equal(checkAnalyzeParams(ok), ok);
    assert.throws(() => checkAnalyzeParams({ ...ok, text: 3 }), /text/);
    // Settings as set: an overlap past the window is resolved (resolveWindows), not refused.
    assert.equal(checkAnalyzeParams({ ...ok, windowOverlap: 512 }).windowOverlap, 512);
    assert.throws(() => checkAnalyzeParams({ ...ok, windowSize: -1 }), /non-negative/);
    assert.throws(() => checkAnalyzeParams({ ...ok, specialTokensInText: 'raw' }), /specialTokensInText/);
    assert.equal(checkAnalyzeParams({ ...ok, documentKey: 'file:///a.ts' }).documentKey, 'file:///a.ts');
    assert.throws(() => checkAnalyzeParams({ ...ok, documentKey: 7 }), /documentKey/);
    assert.throws(() => checkAnalyzeParams({ ...ok, documentKey: '' }), /documentKey/);
    assert.throws(() => checkProgressParams({ progressId: 'a', fraction: NaN, message: '' }), ProtocolError);
  });

  it('describeModels: paths (null = embedded) and backend in; each answer a plan with sizes, or an error', () => {
    assert.deepEqual(checkDescribeModelsParams({ paths: [null, '/m'], backend: 'auto' }), { paths: [null, '/m'], backend: 'auto' });
    assert.throws(() => checkDescribeModelsParams({ paths: [''], backend: 'auto' }), /paths/);
    assert.throws(() => checkDescribeModelsParams({ paths: ['/m'], backend: 'gpu' }), /backend/);
    const plan = { mode: 'streamed', refusal: null, budgetBytes: 1, diskBytes: 2, storedBytes: 2, dtypes: ['BF16'], totalParams: 3, activeParams: 1, minimumBytes: 1, holdBytes: 1, cachedLayers: 0 };
    const info = { path: '/m', modelType: 'olmoe', numLayers: 2, numExperts: 4, topK: 2, plan };
    const good = { models: [{ path: '/m', info, error: null }, { path: null, info: null, error: 'no config.json' }] };
    assert.equal(checkDescribeModelsResult(good), good);
    assert.throws(() => checkDescribeModelsResult({ models: [{ path: '/m', info: { ...info, plan: { ...plan, mode: 'maybe' } }, error: null }] }), ProtocolError);
    assert.throws(() => checkDescribeModelsResult({ models: [{ path: '/m', info: { ...info, plan: { ...plan, holdBytes: -1 } }, error: null }] }), /holdBytes/);
    assert.throws(() => checkDescribeModelsResult({ models: [{ path: '/m', info: { ...info, topK: 'k' }, error: null }] }), /topK/);
  });

  it('checks trace shapes', () => {
    const t = fakeTrace('a b c');
    assert.equal(checkTrace(JSON.parse(JSON.stringify(t))).tokens.length, 6);
    const bad1 = structuredClone(t);
    bad1.layers[0].experts![2] = [0, 99];
    assert.throws(() => checkTrace(bad1), /experts\[2\]\[1\] must be an integer in 0\.\.7, got 99/);
    const bad2 = structuredClone(t);
    bad2.surprisal.pop();
    assert.throws(() => checkTrace(bad2), /surprisal/);
    const bad3 = structuredClone(t);
    bad3.layers[1].weights![0] = [1];
    assert.throws(() => checkTrace(bad3), /weights\[0\] must be an array of 2 numbers/);
    assert.throws(() => checkTrace({ ...t, schema: 'x' }), /schema/);
    assert.throws(() => checkTrace({ ...t, backend: 1 }), /backend/);
    // 1,000 random malformed values: always a TraceError, never a TypeError
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const junk = [null, 1, 'x', [[]], {}, { id: -1 }, [[1]], NaN, true]; // ([] would be a valid empty layer list)
    for (let i = 0; i < 1000; i++) {
      const m = structuredClone(t) as unknown as Record<string, unknown>;
      const keys = ['model', 'tokens', 'layers', 'surprisal'];
      m[keys[Math.floor(rnd() * keys.length)]] = junk[Math.floor(rnd() * junk.length)];
      assert.throws(() => checkTrace(m), TraceError);
    }
  });

  it('isInside compares whole path segments', () => {
    assert.equal(isInside('/ws/models/a', '/ws'), true);
    assert.equal(isInside('/ws', '/ws'), true);
    assert.equal(isInside('/wsx/a', '/ws'), false);
    assert.equal(isInside('/other', '/ws'), false);
  });
});

describe('Hugging Face cache scan', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-hub-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('finds snapshots with config.json, their experts, k and size', async () => {
    const repo = path.join(root, 'models--mistralai--Mixtral-8x7B-v0.1');
    mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    mkdirSync(path.join(repo, 'refs'), { recursive: true });
    const snap = path.join(repo, 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    writeFileSync(path.join(repo, 'blobs', 'cfg'), JSON.stringify({ model_type: 'mixtral', num_local_experts: 8, num_experts_per_tok: 2 }));
    writeFileSync(path.join(repo, 'blobs', 'w'), Buffer.alloc(1000));
    symlinkSync(path.join(repo, 'blobs', 'cfg'), path.join(snap, 'config.json'));
    symlinkSync(path.join(repo, 'blobs', 'w'), path.join(snap, 'model.safetensors'));
    writeFileSync(path.join(repo, 'refs', 'main'), 'abc123');
    // a DeepSeek-style config, no refs
    const ds = path.join(root, 'models--deepseek-ai--DeepSeek-V2-Lite', 'snapshots', 'r1');
    mkdirSync(ds, { recursive: true });
    writeFileSync(path.join(ds, 'config.json'), JSON.stringify({ model_type: 'deepseek_v2', n_routed_experts: 64, num_experts_per_tok: 6 }));
    writeFileSync(path.join(ds, 'pytorch_model.bin'), Buffer.alloc(10));
    // not models / broken
    mkdirSync(path.join(root, 'datasets--x--y', 'snapshots', 'r'), { recursive: true });
    mkdirSync(path.join(root, 'models--broken--cfg', 'snapshots', 'r'), { recursive: true });
    writeFileSync(path.join(root, 'models--broken--cfg', 'snapshots', 'r', 'config.json'), '{not json');

    const models = await scanHubCache(root);
    assert.deepEqual(
      models.map((m) => [m.repoId, m.modelType, m.experts, m.topK, m.safetensors]),
      [
        ['deepseek-ai/DeepSeek-V2-Lite', 'deepseek_v2', 64, 6, false],
        ['mistralai/Mixtral-8x7B-v0.1', 'mixtral', 8, 2, true],
      ],
    );
    const mix = models[1];
    assert.equal(mix.path, snap);
    assert.ok(mix.sizeBytes >= 1000 && mix.sizeBytes < 1200, String(mix.sizeBytes));
    assert.deepEqual(await scanHubCache(path.join(root, 'nope')), []);
  });

  it('resolves the cache folder like huggingface_hub', () => {
    assert.equal(defaultHubDir({ HF_HUB_CACHE: '/c' }), '/c');
    assert.equal(defaultHubDir({ HF_HOME: '/h' }), path.join('/h', 'hub'));
    assert.equal(defaultHubDir({ XDG_CACHE_HOME: '/x' }), path.join('/x', 'huggingface', 'hub'));
  });

  it('reads experts and k under every family’s key names', () => {
    assert.deepEqual(expertsFromConfig({ num_experts: 60, num_experts_per_tok: 4 }), { experts: 60, topK: 4 });
    assert.deepEqual(expertsFromConfig({ model_type: 'switch_transformers', num_experts: 8 }), { experts: 8, topK: 1 });
    assert.deepEqual(expertsFromConfig({ text_config: { num_local_experts: 16, num_experts_per_tok: 1 } }), { experts: 16, topK: 1 });
    assert.deepEqual(expertsFromConfig({ model_type: 'llama' }), { experts: null, topK: null });
  });
});
