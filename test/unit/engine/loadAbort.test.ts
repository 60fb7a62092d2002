/**
 * @file A load aborted at any point frees every tensor it had made, for every family: each golden
 * fixture is loaded once to count its progress calls (one per tensor read), then aborted after the
 * first, a third, two thirds and the last tensor read; tf.memory().numTensors must be back where it was.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { loadModel } from '../../../src/engine/model';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures');
// The *_sw and variant folders add tied embeddings (mixtral_sw, gpt_oss_b, …) and dense layers.
const folders = [
  'mixtral', 'mixtral_sw', 'qwen2_moe', 'qwen2_moe_sw', 'qwen3_moe', 'qwen3_moe_sw', 'olmoe', 'granitemoe', 'deepseek_v3', 'gpt_oss',
  'variants/olmoe_b', 'variants/granitemoe_b', 'variants/deepseek_v3_b', 'variants/gpt_oss_b',
  // Dequantised while read (MXFP4 experts across two shards; block FP8).
  'quantised/gpt_oss_mxfp4', 'quantised/deepseek_v3_fp8', 'quantised/qwen3_moe_fp8',
]; // a missing folder fails its test

before(async () => {
  await initBackend('cpu');
});

describe('aborted loads free what they made', () => {
  for (const folder of folders) {
    test(folder, async () => {
      const dir = path.join(fixtures, folder);
      let calls = 0;
      (await loadModel(dir, { backend: 'cpu', onProgress: () => calls++ })).dispose();
      const start = tf.memory().numTensors;
      // The loader checks the signal before reporting, so an abort in call `cut` lands at call cut + 1:
      // calls − 1 aborts right after the last tensor read.
      for (const cut of new Set([1, Math.floor(calls / 3), Math.floor((2 * calls) / 3), calls - 1])) {
        const ac = new AbortController();
        let n = 0;
        await assert.rejects(
          loadModel(dir, { backend: 'cpu', signal: ac.signal, onProgress: () => (++n === cut ? ac.abort() : undefined) }),
          (err: Error) => err.name === 'AbortError',
          `abort at progress call ${cut} of ${calls}`,
        );
        assert.equal(tf.memory().numTensors, start, `abort at progress call ${cut} of ${calls} left tensors behind`);
      }
    });
  }
});
