/**
 * @file The seams the forward pass is built on: each load owns its tensors (no shared tracker, so two
 * loads at once cannot free each other's weights), and `forward` reaches weights only through its
 * LayerProvider, one layer at a time, in order.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { forward, type DecoderLayer, type LayerProvider } from '../../../src/engine/forward';
import { buildDecoder, disposeDecoder } from '../../../src/engine/layers';
import { loadModel } from '../../../src/engine/model';
import { familyFor } from '../../../src/engine/registry';
import { HeldWeights } from '../../../src/engine/weightSource';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures');

before(async () => {
  await initBackend('cpu');
});

describe('weight loading', () => {
  test('a load aborted while another runs frees only its own tensors', async () => {
    const dir = path.join(fixtures, 'qwen2_moe');
    const start = tf.memory().numTensors;
    const ac = new AbortController();
    let calls = 0;
    const [good, aborted] = await Promise.allSettled([
      loadModel(dir, { backend: 'cpu' }),
      loadModel(dir, { backend: 'cpu', signal: ac.signal, onProgress: () => (++calls === 20 ? ac.abort() : undefined) }),
    ]);
    assert.equal(aborted.status, 'rejected');
    assert.equal(good.status, 'fulfilled');
    const model = (good as PromiseFulfilledResult<Awaited<ReturnType<typeof loadModel>>>).value;
    const result = await model.run([1, 2, 3, 4]); // would throw "Tensor is disposed" had the abort freed its weights
    assert.equal(result.layers.length, model.info.numLayers);
    model.dispose();
    assert.equal(tf.memory().numTensors, start, 'both loads together leave nothing behind');
  });
});

describe('forward', () => {
  test('reaches layer weights only through the provider, once each and in order, releasing each', async () => {
    const dir = path.join(fixtures, 'deepseek_v3');
    const family = familyFor('deepseek_v3');
    const cfg = family.parseConfig(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
    const ckpt = await openCheckpoint(dir);
    const source = await HeldWeights.load(ckpt, ckpt.names());
    const start = tf.memory().numTensors;
    const { decoder } = await buildDecoder(source, family, cfg, { mode: 'resident', cachedLayers: 0, headCached: false, expertGroupBytes: Infinity });
    const ids = [5, 6, 7, 8, 9];
    const plain = await forward(decoder, ids);
    const asked: string[] = [];
    const inner = decoder.layers;
    const counting: LayerProvider = {
      count: inner.count,
      get: (i: number): Promise<DecoderLayer> => {
        asked.push(`get ${i}`);
        return inner.get(i);
      },
      release: (layer: DecoderLayer) => {
        asked.push(`release ${layer.layer}`);
        inner.release(layer);
      },
      dispose: () => inner.dispose(),
    };
    const viaCounting = await forward({ ...decoder, layers: counting }, ids);
    assert.deepEqual(asked, ['get 0', 'release 0', 'get 1', 'release 1', 'get 2', 'release 2']);
    assert.deepEqual(viaCounting.layers, plain.layers);
    assert.deepEqual(await viaCounting.hidden.data(), await plain.hidden.data());
    plain.hidden.dispose();
    viaCounting.hidden.dispose();
    disposeDecoder(decoder);
    await source.close();
    assert.equal(tf.memory().numTensors, start);
  });
});
