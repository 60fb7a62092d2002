/**
 * @file Starting tfjs-backend-wasm's threaded SIMD build under Node: its shared heap lets the engine's
 * kernel workers (kernelPool.ts) compute on it, and with MOE_LENS_KERNELS=tfjs XNNPACK's matmuls use every
 * core the engine is given. tfjs turns threads off under Node (tensorflow/tfjs#3830) because its
 * emscripten pthread workers are handed Blob URLs, which worker_threads cannot load. Two things make
 * them start from files instead, without touching tfjs' sources:
 *  - the pthread worker script is written to a temporary file (returned for the Blob tfjs makes of it);
 *  - that worker loads the module's main script from its file path, not from the Blob it is sent.
 * Only backend.ts calls this, before the wasm backend is first selected.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
// The worker source tfjs itself would have put in a Blob (a CommonJS string export; bundled by esbuild).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as { wasmWorkerContents: string };

/** The threaded build's main script, which each pthread worker evaluates (esbuild.js copies it into dist/). */
export const THREADED_MAIN_SCRIPT = 'tfjs-backend-wasm-threaded-simd.js';

/** Beside the .wasm binaries in the bundle; in the package's wasm-out/ under tsx. */
function mainScriptPath(wasmDir: string): string | null {
  const candidates = [path.join(wasmDir, THREADED_MAIN_SCRIPT)];
  try {
    candidates.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out', THREADED_MAIN_SCRIPT));
  } catch {
    // bundled without node_modules: only the bundle's folder can hold it
  }
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}

/** What the worker does with the main script it is sent; replaced by a load from the file. */
const BLOB_LOAD =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

/** The threads the engine uses by default: every core the OS gives this process. */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism());
}

/** The worker script, loading `mainScript` from disk; null if this tfjs version's worker differs. */
export function patchedWorker(mainScript: string): string | null {
  if (!wasmWorkerContents.includes(BLOB_LOAD)) {
    return null;
  }
  // tfjs escapes newlines before making its Blob; the file gets the same text.
  return wasmWorkerContents.replace(BLOB_LOAD, `importScripts(${JSON.stringify(mainScript)});`).replace(/\n/g, '\\n');
}

/**
 * Prepares tfjs so its next wasm initialisation starts the threaded build with `threads` XNNPACK
 * threads. Returns an undo for the core count it reports (call it once the backend is ready), or a
 * reason why threads cannot be used here (the caller then starts the single-threaded build).
 */
export function prepareThreadedWasm(wasmDir: string, threads: number): { undo(): void } | { reason: string } {
  const mainScript = mainScriptPath(wasmDir);
  if (mainScript === null) {
    return { reason: `${THREADED_MAIN_SCRIPT} is not beside the wasm binaries (${wasmDir})` };
  }
  const worker = patchedWorker(mainScript);
  if (worker === null) {
    return { reason: 'this tfjs-backend-wasm build loads its worker differently than expected' };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-lens-wasm-'));
  const workerFile = path.join(dir, 'worker.js');
  fs.writeFileSync(workerFile, worker);
  // Workers read the file while they start; it goes with the process.
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  // Kept for the life of the process: emscripten makes a new worker whenever its pool runs out.
  const realCreate = URL.createObjectURL.bind(URL);
  URL.createObjectURL = ((obj: Blob) => (obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : realCreate(obj))) as typeof URL.createObjectURL;
  // tfjs caps the pool at emscripten_num_logical_cores() / 2 (it assumes hyper-threads), which is
  // os.cpus().length / 2 under Node: 1 on a 2-core machine. It asks once, while it starts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const osModule = require('node:os') as { cpus: typeof os.cpus };
  const realCpus = osModule.cpus;
  osModule.cpus = () => {
    const cpus = realCpus();
    return Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
  };
  const undoStandIns = threads === 1 ? standInPthreadWorkers() : () => undefined;
  return {
    undo() {
      osModule.cpus = realCpus;
      undoStandIns();
    },
  };
}

/**
 * Stands in for the 8 pthread workers emscripten starts with the threaded build when XNNPACK runs on one
 * thread and so starts no pthread: each real one boots a Node worker and evaluates the build's glue
 * (about 0.3 s of CPU each: the backend was ready 0.9 s later on 2 cores, against 0.03 s single-threaded).
 * A stand-in answers the 'load' handshake; settlePool ends them once the backend is ready and undo puts the
 * real Worker back, so a pthread asked for later still gets a real worker.
 */
class StandInWorker extends EventEmitter {
  postMessage(msg: { cmd?: string } | undefined): void {
    const cmd = msg?.cmd;
    setImmediate(() =>
      cmd === 'load' ? this.emit('message', { cmd: 'loaded' }) : this.emit('error', new Error(`moe-lens: tfjs sent '${cmd}' to a stand-in pthread worker while it was starting`)),
    );
  }
  ref(): void {}
  unref(): void {}
  terminate(): Promise<number> {
    return Promise.resolve(0);
  }
}

/** Makes emscripten's `new Worker` (worker_threads' Worker, which its glue copies to global.Worker) a StandInWorker until the returned undo. */
function standInPthreadWorkers(): () => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const threadsModule = require('node:worker_threads') as { Worker: unknown };
  const real = threadsModule.Worker;
  threadsModule.Worker = StandInWorker;
  return () => {
    threadsModule.Worker = real;
    const g = globalThis as { Worker?: unknown };
    if (g.Worker === StandInWorker) {
      g.Worker = real;
    }
  };
}

/** XNNPACK threads of the running wasm backend (1 for the single-threaded build). */
export function wasmThreadsInUse(): number {
  const backend = tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } };
  return backend.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}

/**
 * After the threaded backend started: lets the process exit while XNNPACK's pool threads wait for
 * work (emscripten refs a pthread's worker when it starts one, and the pool's threads never return,
 * so a CLI run would never end), and ends the spare workers emscripten pre-starts (8, about 17 MB
 * each; the pool uses threads − 1 of them, and emscripten starts a new one if it ever needs more).
 */
export function settlePool(): void {
  const backend = tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers?: PoolWorker[]; unusedWorkers?: PoolWorker[] } } };
  const pool = backend.wasm?.PThread;
  pool?.runningWorkers?.forEach((w) => w.unref?.());
  const spare = pool?.unusedWorkers?.splice(0) ?? [];
  spare.forEach((w) => void w.terminate?.());
}

interface PoolWorker {
  unref?: () => void;
  terminate?: () => Promise<number> | void;
}
