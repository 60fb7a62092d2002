/**
 * @file gpt-oss against transformers 4.57.6 (test/fixtures/gpt_oss): router bias, softmax over the
 * top-k logits, clamped interleaved SwiGLU with biases, attention sinks, sliding window 8 on layers
 * 0 and 2 (which matters for 24 tokens), YaRN RoPE. The MXFP4 release format: test/golden/quantised.test.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tokenFacts } from '../../src/shared/tokenFacts';
import { initBackend, tf } from '../../src/engine/backend';
import { parseConfig, route } from '../../src/engine/families/gpt_oss';
import { rmSync } from 'node:fs';
import { loadModel } from '../../src/engine/model';
import { BACKENDS, checkAgainstExpected, checkNoLeak, editedCopy, loadFixture, report, runCliTrace, type CliTrace } from './fixtureGolden';

const fx = loadFixture('gpt_oss');

for (const backend of BACKENDS) {
  describe(`gpt_oss golden on ${backend} (moe-lens trace vs transformers)`, () => {
    let trace: CliTrace;
    before(() => {
      trace = runCliTrace(fx, backend);
    });

    test('routing, gate weights and logits match transformers', () => {
      assert.equal(trace.model.modelType, 'gpt_oss');
      report(`gpt_oss (${backend})`, checkAgainstExpected(trace, fx, { unordered: false }));
    });

    test('scores are the raw logits (bias included) and weights a softmax over the k chosen', () => {
      for (const l of trace.layers) {
        assert.deepEqual(l.scores, l.routerLogits);
        l.experts!.forEach((row, t) => {
          const chosen = row.map((e) => l.routerLogits![t][e]);
          const m = Math.max(...chosen);
          const z = chosen.reduce((s, v) => s + Math.exp(v - m), 0);
          chosen.forEach((v, j) => assert.ok(Math.abs(Math.exp(v - m) / z - l.weights![t][j]) < 1e-9));
        });
      }
    });

    test('margin and near miss are on logit + router bias, the quantity the router ranked by (never negative)', () => {
      for (const l of trace.layers) {
        l.experts!.forEach((_, t) => {
          const f = tokenFacts(trace.model, l, t)!;
          assert.equal(f.selectionBy, 'score');
          assert.ok(f.margin! >= 0, `layer ${l.layer} token ${t}: margin ${f.margin}`);
        });
      }
    });
  });
}

describe('gpt_oss in process', () => {
  test('no tensor left behind by a run; dispose frees every weight', async () => {
    await checkNoLeak(fx);
  });

  test('a load aborted anywhere (expert tensors of earlier layers already made) frees every tensor it made', async () => {
    await initBackend('wasm');
    let calls = 0;
    (await loadModel(fx.dir, { backend: 'wasm', onProgress: () => calls++ })).dispose();
    assert.ok(calls > 10, `only ${calls} progress calls`);
    const start = tf.memory().numTensors;
    // After each third of the tensors, and at the very last one (every layer's experts made).
    for (const cut of [Math.floor(calls / 3), Math.floor((2 * calls) / 3), calls - 1]) {
      const ac = new AbortController();
      let n = 0;
      await assert.rejects(
        loadModel(fx.dir, { backend: 'wasm', signal: ac.signal, onProgress: () => (++n === cut ? ac.abort() : undefined) }),
        (err: Error) => err.name === 'AbortError',
      );
      assert.equal(tf.memory().numTensors, start, `abort at progress call ${cut} of ${calls} left tensors behind`);
    }
  });

  test('MXFP4 blocks in a checkpoint whose config.json does not declare mxfp4 are refused with a clear error', async () => {
    const dir = await editedCopy(fx, (t) => {
      const p = 'model.layers.0.mlp.experts.gate_up_proj';
      delete t[p];
      t[`${p}_blocks`] = { dtype: 'U8', shape: [8, 64, 2, 16], data: new Uint8Array(8 * 64 * 2 * 16) };
      t[`${p}_scales`] = { dtype: 'U8', shape: [8, 64, 2], data: new Uint8Array(8 * 64 * 2) };
    });
    try {
      await assert.rejects(loadModel(dir, { backend: 'wasm' }), /gate_up_proj' is stored as MXFP4 blocks and scales, but config\.json's quantization_config does not say quant_method 'mxfp4'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gpt_oss config and router', () => {
  test('layer_types default alternates sliding / full; rope_scaling defaults to YaRN only when the key is absent', () => {
    const base = { hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 4, num_local_experts: 8, vocab_size: 32 };
    const cfg = parseConfig(base);
    assert.deepEqual(cfg.slidingWindows, [128, null, 128, null]);
    assert.equal(cfg.rope.scaling.type, 'yarn');
    assert.equal(parseConfig({ ...base, rope_scaling: null }).rope.scaling.type, 'default');
    assert.throws(() => parseConfig({ ...base, layer_types: ['full_attention'] }), /layer_types/);
  });

  test('top-k is taken on the logits, so the order is descending and ties go to the lower index', () => {
    const r = route([[1, 3, 3, -2]], 2, new Set());
    assert.deepEqual(r.experts, [[1, 2]]);
    assert.deepEqual(r.weights, [[0.5, 0.5]]);
    assert.deepEqual(route([[1, 3, 3, -2]], 2, new Set([1])).experts, [[2, 0]]);
  });
});
