/**
 * The wasm backend on two threads (its threaded build started under Node, src/engine/kernels/
 * wasmThreads.ts): the engine's kernels really run a second thread on its shared heap, a run frees every tensor it made, and a
 * cancel still lands between layers. Numerics against transformers on 1 and 2 threads: test/golden.
 * This file's process starts wasm with 2 threads (a backend's thread count is fixed per process).
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as workerThreads from 'node:worker_threads';
import { after, before, describe, test } from 'node:test';
import { backendThreads, initBackend, parseThreads, tf } from '../../../src/engine/backend';
import { patchedWorker, prepareThreadedWasm, wasmThreadsInUse } from '../../../src/engine/kernels/wasmThreads';
import { wasmKernels } from '../../../src/engine/kernels/wasmKernels';
import { loadModel, type Model } from '../../../src/engine/model';
import { makeBabyModel } from './babyModel';

const ids = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % 50);
let dir: string;
let model: Model;
const realWorker = workerThreads.Worker;

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

  test("emscripten's pthread workers were stand-ins, ended, and the real Worker is back", () => {
    const pool = (tf.backend() as unknown as { wasm: { PThread: { unusedWorkers: unknown[]; runningWorkers: unknown[] } } }).wasm.PThread;
    assert.equal(pool.unusedWorkers.length, 0, 'spare workers ended');
    assert.equal(pool.runningWorkers.length, 0, 'XNNPACK on one thread starts no pthread');
    assert.equal(workerThreads.Worker, realWorker);
    assert.equal((globalThis as { Worker?: unknown }).Worker, realWorker, "emscripten's global.Worker, for a pthread asked for later");
  });

  test('with XNNPACK on one thread, start-up gets stand-in pthread workers that answer only the load handshake', async () => {
    const started = prepareThreadedWasm(os.tmpdir(), 1);
    assert.ok(!('reason' in started));
    try {
      const StandIn = workerThreads.Worker as unknown as new (file: string) => EventEmitter & { postMessage(m: unknown): void };
      assert.notEqual(StandIn, realWorker);
      const w = new StandIn('unused.js');
      const loaded = once(w, 'message');
      w.postMessage({ cmd: 'load' });
      assert.deepEqual((await loaded)[0], { cmd: 'loaded' });
      const refused = once(w, 'error');
      w.postMessage({ cmd: 'run' });
      assert.match(String((await refused)[0]), /stand-in pthread worker/);
    } finally {
      started.undo();
    }
    assert.equal(workerThreads.Worker, realWorker);
    const withThreads = prepareThreadedWasm(os.tmpdir(), 2); // XNNPACK's own threads need real workers
    assert.ok(!('reason' in withThreads));
    assert.equal(workerThreads.Worker, realWorker);
    withThreads.undo();
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
