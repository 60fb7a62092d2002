/**
 * @file `summarizeModel` (what `moe-lens info` shows) plans from the headers alone: the same plan a
 * load makes, for any budget, including one that refuses; and its text names family, parameters,
 * experts, dtypes, bytes on disk and whether it streams.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { formatModelInfo } from '../../../src/shared/modelPlanText';
import { initBackend } from '../../../src/engine/backend';
import { loadModel } from '../../../src/engine/model';
import { summarizeModel } from '../../../src/engine/modelSummary';
import { makeBabyModel } from './babyModel';

before(async () => {
  await initBackend('cpu');
});

describe('model summary', () => {
  test('plans as the load does, resident, streamed or refused, without loading', async () => {
    const dir = makeBabyModel('olmoe', {}, 5, undefined, 'BF16');
    const model = await loadModel(dir, { backend: 'cpu' });
    const loaded = model.plan;
    model.dispose();
    const resident = await summarizeModel(dir, { backend: 'cpu' });
    assert.deepEqual({ ...resident.plan, budgetBytes: 0 }, { ...loaded, budgetBytes: 0 });
    assert.deepEqual([resident.modelType, resident.numLayers, resident.numExperts, resident.topK], ['olmoe', 2, 4, 2]);
    const streamed = await summarizeModel(dir, { backend: 'cpu', maxMemoryBytes: loaded.minimumBytes });
    assert.equal(streamed.plan.mode, 'streamed');
    const refused = await summarizeModel(dir, { backend: 'cpu', maxMemoryBytes: loaded.minimumBytes - 1 });
    assert.equal(refused.plan.mode, 'refused');
    assert.match(refused.plan.refusal ?? '', /^this model needs at least \d+ MB to run layer by layer/);

    const text = formatModelInfo(streamed).split('\n');
    assert.equal(text[0], `model       ${path.resolve(dir)}`);
    assert.equal(text[1], 'family      olmoe');
    assert.equal(text[2], `parameters  ${(streamed.plan.totalParams / 1e6).toFixed(1)} M total, ${(streamed.plan.activeParams / 1e6).toFixed(1)} M active per token`);
    assert.deepEqual(text.slice(3, 7), ['layers      2', 'experts     4, k = 2', 'dtypes      BF16', `on disk     ${(streamed.plan.diskBytes / 1e9).toFixed(2)} GB (${Math.ceil(streamed.plan.diskBytes / 2 ** 20)} MB)`]);
    assert.match(text[7], /^memory {6}streamed: reads each layer from disk as the run reaches it, holding about \d+ MB of a budget of \d+ MB \(minimum \d+ MB\)$/);
    assert.match(formatModelInfo(refused), /\nmemory {6}refused: this model needs at least/);
    assert.match(formatModelInfo(resident), /\nmemory {6}resident: holds about .* \(weights at their stored precision; 2 of 2 layers kept widened to float32\)$/);
  });

  test('quantised checkpoints: MXFP4 and block-FP8 tensors are named so, and sized as the float32 they dequantise to', async () => {
    const fixtures = path.resolve(__dirname, '..', '..', 'fixtures', 'quantised');
    const mx = await summarizeModel(path.join(fixtures, 'gpt_oss_mxfp4'), { backend: 'cpu' });
    assert.ok(mx.plan.dtypes.includes('MXFP4'), mx.plan.dtypes.join());
    const f32Twin = await summarizeModel(path.join(path.resolve(__dirname, '..', '..', 'fixtures'), 'gpt_oss'), { backend: 'cpu' });
    assert.equal(mx.plan.totalParams, f32Twin.plan.totalParams, 'the same parameters as the float gpt-oss fixture of the same shape');
    const fp8 = await summarizeModel(path.join(fixtures, 'deepseek_v3_fp8'), { backend: 'cpu' });
    assert.ok(fp8.plan.dtypes.includes('FP8 (block scales)'), fp8.plan.dtypes.join());
  });
});
