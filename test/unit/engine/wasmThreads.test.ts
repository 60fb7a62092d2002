/**
 * The wasm backend on two threads (its threaded build started under Node, src/engine/kernels/
 * wasmThreads.ts): the engine's kernels really run a second thread on its shared heap, a run frees every tensor it made, and a
 * cancel still lands between layers. Numerics against transformers on 1 and 2 threads: test/golden.
 * This file's process starts wasm with 2 threads (a backend's thread count is fixed per process).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { backendThreads, initBackend, parseThreads, tf } from '../../../src/engine/backend';
import { patchedWorker, wasmThreadsInUse } from '../../../src/engine/kernels/wasmThreads';
import { wasmKernels } from '../../../src/engine/kernels/wasmKernels';
import { loadModel, type Model } from '../../../src/engine/model';
import { makeBabyModel } from './babyModel';

const ids = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % 50);
let dir: string;
let model: Model;

before(async () => {
  await initBackend('wasm', 2);
  dir = makeBabyModel('mixtral');
  model = await loadModel(dir, { backend: 'wasm' });
});
after(() => {
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('wasm on two threads', () => {
  test("the threaded build's shared heap runs the engine's kernels on 2 threads, XNNPACK on one", () => {
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(backendThreads(), 2);
    assert.equal(wasmKernels()?.threads, 2, "the engine's kernel pool: this thread and one worker");
    // XNNPACK still runs tfjs' elementwise ops; with a pool of its own it would spin on the second core.
    assert.equal(wasmThreadsInUse(), 1, 'XNNPACK pool size as the wasm module reports it');
  });

  test('a run leaves no tensor behind and repeats exactly', async () => {
    const before = tf.memory().numTensors;
    const a = await model.run(ids, { withLogits: true });
    const b = await model.run(ids, { withLogits: true });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(a, b);
  });

  test('a cancel lands between layers and frees the run', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const seen: number[] = [];
    const run = model.run(ids, {
      signal: ac.signal,
      onProgress: (f) => {
        seen.push(f);
        if (f > 0) {
          ac.abort();
        }
      },
    });
    await assert.rejects(run, (err: Error) => err.name === 'AbortError');
    assert.ok(seen.filter((f) => f > 0).length === 1, `stopped after the first layer (progress ${seen.join(', ')})`);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('thread settings', () => {
  test('a thread count is a whole number from 1 to 64', () => {
    assert.equal(parseThreads('2'), 2);
    assert.equal(parseThreads(1), 1);
    for (const bad of ['0', '-1', '1.5', 'two', '', '65']) {
      assert.throws(() => parseThreads(bad, 'MOE_LENS_THREADS'), /MOE_LENS_THREADS must be a whole number from 1 to 64/);
    }
  });

  test('the pthread worker loads the main script from its file, not from a Blob', () => {
    const worker = patchedWorker('/opt/x/tfjs-backend-wasm-threaded-simd.js');
    assert.ok(worker, 'this tfjs version has the worker code the patch expects');
    assert.ok(worker.includes('importScripts("/opt/x/tfjs-backend-wasm-threaded-simd.js");WasmBackendModuleThreadedSimd(Module)'));
    assert.ok(!worker.includes('URL.createObjectURL(e.data.urlOrBlob)'));
  });
});
