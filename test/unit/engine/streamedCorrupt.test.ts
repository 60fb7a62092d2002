/**
 * @file A NaN weight in a streamed model: nothing reads it up front (a streamed load reads no expert),
 * so the first run that reaches it stops there with one clear error naming the tensor and its layer
 * and saying the file is corrupt; no tensor is left behind, and the next run fails at once with the
 * same error instead of streaming up to it again. A resident load of the same file refuses it up front.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { loadModel } from '../../../src/engine/model';
import { makeBabyModel } from './babyModel';

before(async () => {
  await initBackend('cpu');
});

const ids = [3, 1, 4, 1, 5, 9, 2, 6];

test("a NaN in layer 1's expert, streamed: one clear error at layer 1, nothing held, the next run fails at once", async () => {
  // The clean model says which expert layer 1 routes the first token to: that is the one to corrupt.
  const clean = await loadModel(makeBabyModel('olmoe', {}, 21, undefined, 'BF16'), { backend: 'cpu' });
  const { minimumBytes } = clean.plan;
  const expert = (await clean.run(ids)).layers[1].experts?.[0][0] ?? -1;
  clean.dispose();
  assert.ok(expert >= 0);
  const tensor = `model.layers.1.mlp.experts.${expert}.up_proj.weight`;
  const dir = makeBabyModel('olmoe', {}, 21, (name, data) => (name === tensor ? (data[5] = NaN) : undefined), 'BF16');

  const start = tf.memory().numTensors;
  const model = await loadModel(dir, { backend: 'cpu', maxMemoryBytes: minimumBytes });
  assert.equal(model.plan.mode, 'streamed');
  const loaded = tf.memory().numTensors;
  const progress: string[] = [];
  const expected = (e: Error): boolean => {
    assert.equal(e.name, 'NonFiniteWeightsError');
    assert.match(e.message, new RegExp(`: tensor "${tensor.replace(/\./g, '\\.')}" \\(layer 1\\) holds 1 non-finite value \\(first: NaN at \\[\\d+, \\d+\\]\\): the checkpoint file is corrupt`));
    assert.match(e.message, /re-download or re-save the file$/);
    return true;
  };
  await assert.rejects(model.run(ids, { onProgress: (_f, m) => progress.push(m) }), expected);
  assert.deepEqual(progress, ['layer 1/2'], 'layer 0 ran, layer 1 stopped at its expert');
  assert.equal(tf.memory().numTensors, loaded, 'the failed run left no tensor behind');
  const again: string[] = [];
  await assert.rejects(model.run(ids, { onProgress: (_f, m) => again.push(m) }), expected);
  assert.deepEqual(again, [], 'the next run fails before streaming any layer');
  assert.equal(tf.memory().numTensors, loaded);
  model.dispose();
  assert.equal(tf.memory().numTensors, start);

  // Resident, every weight is read at load: refused there, naming the tensor.
  await assert.rejects(loadModel(dir, { backend: 'cpu' }), (e: Error) => e.message.includes(`tensor "${tensor}": holds 1 non-finite value`) && /corrupt/.test(e.message));
  assert.equal(tf.memory().numTensors, start);
});
