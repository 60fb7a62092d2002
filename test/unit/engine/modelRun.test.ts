/**
 * Model.run beyond one forward pass: routing overrides (other k, ablation, dense, expert choice, a
 * function), tensor bookkeeping across runs, backends and aborts, and clear load errors.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../../../src/engine/backend';
import { loadModel, type Model } from '../../../src/engine/model';
import { BABY, makeBabyModel } from './babyModel';

const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const dirs: string[] = [];
let dir: string;
let model: Model;

before(async () => {
  dir = makeBabyModel('mixtral');
  dirs.push(dir);
  model = await loadModel(dir, { backend: 'wasm' });
});
after(() => {
  model.dispose();
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

describe('routing overrides', () => {
  test('top-k with another k', async () => {
    const r = await model.run(ids, { routing: { kind: 'topk', k: 1 } });
    const base = await model.run(ids);
    for (const [i, l] of r.layers.entries()) {
      assert.ok(l.experts!.every((row) => row.length === 1));
      assert.ok(l.weights!.every((row) => Math.abs(row[0] - 1) < 1e-12), 'Mixtral renormalises a single expert to 1');
      // the layer-0 router sees the same input, so its top-1 is the baseline's first choice
      if (i === 0) {
        assert.deepEqual(l.experts!.map((row) => row[0]), base.layers[0].experts!.map((row) => row[0]));
      }
    }
  });

  test('ablation removes experts from selection and changes the output', async () => {
    const base = await model.run(ids, { withLogits: true });
    const r = await model.run(ids, { routing: { kind: 'ablate', experts: [0, 1] }, withLogits: true });
    for (const l of r.layers) {
      assert.ok(l.experts!.flat().every((e) => e !== 0 && e !== 1));
      assert.ok(l.weights!.every((row) => Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-9));
    }
    assert.deepEqual(r.layers[0].routerLogits, base.layers[0].routerLogits, 'router logits are not affected by the override');
    const diff = Math.max(...r.logits!.flat().map((v, i) => Math.abs(v - base.logits!.flat()[i])));
    assert.ok(diff > 1e-3, 'the ablated run computes something else');
  });

  test('dense mixture weights every expert by softmax(logits)', async () => {
    const r = await model.run(ids, { routing: { kind: 'dense' } });
    for (const l of r.layers) {
      l.weights!.forEach((w, t) => {
        assert.equal(w.length, BABY.E);
        assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-9);
        l.experts![t].forEach((e, j) => assert.ok(Math.abs(l.scores![t][e] - w[j]) < 1e-12));
      });
    }
  });

  test('expert choice: each expert takes its top-C tokens', async () => {
    const capacity = 2;
    const C = Math.max(1, Math.floor((ids.length * capacity) / BABY.E));
    const r = await model.run(ids, { routing: { kind: 'expert-choice', capacity } });
    for (const l of r.layers) {
      const perExpert = new Array<number>(BABY.E).fill(0);
      l.experts!.flat().forEach((e) => perExpert[e]++);
      assert.deepEqual(perExpert, new Array<number>(BABY.E).fill(C));
      // the tokens an expert took have the highest softmax score for it
      for (let e = 0; e < BABY.E; e++) {
        const taken = l.experts!.map((row, t) => (row.includes(e) ? t : -1)).filter((t) => t >= 0);
        const minTaken = Math.min(...taken.map((t) => l.scores![t][e]));
        const maxLeft = Math.max(...l.scores!.map((s, t) => (taken.includes(t) ? -Infinity : s[e])));
        assert.ok(minTaken >= maxLeft);
      }
    }
  });

  test('a function override sees the logits and the family router', async () => {
    const seen: number[] = [];
    const r = await model.run(ids, {
      routing: (ctx) => {
        seen.push(ctx.layer);
        assert.equal(ctx.k, BABY.k);
        return { experts: ctx.logits.map(() => [3]), weights: ctx.logits.map(() => [0.5]) };
      },
    });
    assert.deepEqual(seen, [0, 1]);
    assert.ok(r.layers.every((l) => l.experts!.every((row) => row[0] === 3)));
  });

  test('a bad k is a clear error and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    await assert.rejects(model.run(ids, { routing: { kind: 'topk', k: 99 } }), /k must be an integer in 1\.\.4/);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('memory and control', () => {
  test('tf.memory().numTensors does not grow across runs (wasm)', async () => {
    await model.run(ids, { withLogits: true });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await model.run(ids, { withLogits: i % 2 === 0 });
    }
    assert.equal(tf.memory().numTensors, before);
  });

  test('abort rejects and disposes every tensor of the run', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const run = model.run(ids, { signal: ac.signal, onProgress: (f) => (f > 0 ? ac.abort() : undefined) });
    await assert.rejects(run, (err: Error) => err.name === 'AbortError');
    assert.equal(tf.memory().numTensors, before);
  });

  test('the cpu backend gives the same routing and keeps the tensor count', async () => {
    const onWasm = await model.run(ids, { withLogits: true });
    const cpu = await loadModel(dir, { backend: 'cpu' });
    try {
      assert.equal(cpu.backend, 'cpu');
      const before = tf.memory().numTensors;
      const r = await cpu.run(ids, { withLogits: true });
      await cpu.run(ids);
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(r.layers.map((l) => l.experts), onWasm.layers.map((l) => l.experts));
      const diff = Math.max(...r.logits!.flat().map((v, i) => Math.abs(v - onWasm.logits!.flat()[i])));
      assert.ok(diff < 1e-4, `cpu vs wasm logits differ by ${diff}`);
    } finally {
      cpu.dispose();
    }
    // the wasm model switches the engine back to the backend its weights live on
    const again = await model.run(ids, { withLogits: true });
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(again.logits, onWasm.logits);
  });

  test('tfjs-node, when installed, routes the same and keeps the tensor count', async (t) => {
    let native: Model;
    try {
      native = await loadModel(dir, { backend: 'node' });
    } catch (err) {
      assert.match((err as Error).message, /backend 'node' could not be loaded on this machine \(is the optional @tensorflow\/tfjs-node installed\?\)/);
      t.skip('@tensorflow/tfjs-node is not installed here');
      return;
    }
    try {
      assert.equal(native.backend, 'tensorflow');
      const before = tf.memory().numTensors;
      const r = await native.run(ids);
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(r.layers.map((l) => l.experts), (await model.run(ids)).layers.map((l) => l.experts));
    } finally {
      native.dispose();
      await loadModel(dir, { backend: 'wasm' }).then((m) => m.dispose());
    }
  });

  test('ids outside the vocabulary and too-long inputs are refused', async () => {
    await assert.rejects(model.run([1, BABY.V]), /token id 64 is outside the vocabulary/);
    await assert.rejects(model.run(new Array(65).fill(1)), /exceed the model's context of 64/);
  });
});

describe('load errors', () => {
  test('unsupported model_type lists the supported ones', async () => {
    const d = makeBabyModel('mixtral', { model_type: 'llama' });
    dirs.push(d);
    await assert.rejects(loadModel(d), /model_type 'llama' is not supported; supported model types: .*mixtral.*qwen2_moe/);
  });

  test('a missing required key is named', async () => {
    const d = makeBabyModel('olmoe');
    dirs.push(d);
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    delete cfg.hidden_size;
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(cfg));
    await assert.rejects(loadModel(d), /config\.json \(olmoe\): 'hidden_size' is required but missing/);
  });

  test('a config that disagrees with the tensors names the tensor, and the failed load frees what it made', async () => {
    const d = makeBabyModel('qwen3_moe', { moe_intermediate_size: 8 });
    dirs.push(d);
    const before = tf.memory().numTensors;
    await assert.rejects(loadModel(d), /tensor 'model\.layers\.0\.mlp\.experts\.0\.gate_proj\.weight' has shape \[16,32\], but config\.json implies \[8,32\]/);
    assert.equal(tf.memory().numTensors, before);
  });

  test('an aborted load rejects and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const loading = loadModel(dir, { signal: ac.signal, onProgress: (f) => (f > 0.3 ? ac.abort() : undefined) });
    await assert.rejects(loading, (err: Error) => err.name === 'AbortError');
    assert.equal(tf.memory().numTensors, before);
  });

  test('absurd values are refused before anything is allocated', async () => {
    const d = makeBabyModel('mixtral', { num_experts_per_tok: 9 });
    dirs.push(d);
    await assert.rejects(loadModel(d), /'num_experts_per_tok' must be an integer in 1\.\.4/);
  });
});
