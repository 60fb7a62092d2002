/**
 * @file A small model under a big budget: the plan holds about the model, not the budget. The expert
 * group used to grow with the spare budget past the layer's own experts, so the 18 MB embedded model
 * was shown in Select Model and `info` as holding 4.3 GB.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { planModelMemory, RUNTIME_BYTES } from '../../../src/engine/memoryPlan';
import { familyFor } from '../../../src/engine/registry';

const demo = path.resolve(__dirname, '..', '..', '..', 'models', 'demo');

test('the embedded model under an 18 GB budget: an expert group is at most a layer of experts, the hold is about the model', async () => {
  const ckpt = await openCheckpoint(demo);
  try {
    const cfg = familyFor('qwen2_moe').parseConfig(JSON.parse(readFileSync(path.join(demo, 'config.json'), 'utf8')) as Record<string, unknown>);
    const plan = planModelMemory(ckpt, cfg, { budgetBytes: 18 * 2 ** 30, heapBytes: 4294901760, weightCopies: 2, numLayers: cfg.numLayers });
    assert.equal(plan.mode, 'resident');
    const expertBytes = 3 * cfg.hiddenSize * 128 * 4; // gate, up, down widened to float32
    assert.ok(plan.expertGroupBytes <= cfg.numExperts * expertBytes, `group ${plan.expertGroupBytes} B > ${cfg.numExperts} experts`);
    assert.ok(plan.holdBytes < RUNTIME_BYTES + 512 * 2 ** 20, `holds ${Math.round(plan.holdBytes / 2 ** 20)} MB`);
  } finally {
    await ckpt.close();
  }
});
