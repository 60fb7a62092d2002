/**
 * @file bench/forward helper: can tfjs-backend-wasm use threads under Node? (tfjs turns them off:
 * its WASM_HAS_MULTITHREAD_SUPPORT flag returns false when IS_NODE, and its pthread worker is loaded
 * from a Blob URL that Node's worker_threads cannot open.) This script forces the flag and serves
 * the worker and the main script as files, then times a float32 matmul of the bench's shapes.
 *
 *   npx tsx bench/forwardWasmThreads.ts --threads 2     # or --threads 1 for the single-threaded build
 *
 * Prints one JSON line: {threads, backendThreads, gflops, ms, ok, error?}. Bench-only: the engine
 * itself (src/engine/backend.ts) does not use this.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/**
 * Initialises tfjs's wasm backend with its threaded SIMD build and `threads` XNNPACK threads under
 * Node. Call before anything else selects a backend (src/engine/backend.ts then finds 'wasm' ready).
 */
export async function initThreadedWasm(threads: number): Promise<{ ok: boolean; threads: number }> {
  const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  wasm.setWasmPaths(path.join(pkg, 'dist') + path.sep);
  if (threads > 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tfjs-wasm-threads-'));
    // 1. The pthread worker: tfjs hands emscripten a Blob URL; give it a real file instead.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { wasmWorkerContents } = require(path.join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
    process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
    const workerFile = path.join(tmp, 'worker.js');
    writeFileSync(workerFile, wasmWorkerContents.replace(/\n/g, '\\n'));
    const realCreate = URL.createObjectURL.bind(URL);
    URL.createObjectURL = ((obj: Blob) => (obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : realCreate(obj))) as typeof URL.createObjectURL;
    // 2. The main script each worker evaluates: tfjs assigns a Blob to factoryConfig.mainScriptUrlOrBlob,
    // which worker_threads cannot read back synchronously; a setter swaps in the file path.
    const mainScript = path.join(pkg, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
    Object.defineProperty(Object.prototype, 'mainScriptUrlOrBlob', {
      configurable: true,
      set(this: object) {
        Object.defineProperty(this, 'mainScriptUrlOrBlob', { value: mainScript, writable: true, enumerable: true, configurable: true });
      },
    });
    wasm.setThreadsCount(threads);
  }
  // 3. tfjs caps the pool at emscripten_num_logical_cores() / 2 (it assumes hyper-threading), which
  // under Node is os.cpus().length / 2: 1 thread on a 2-core machine. Report 2 × threads while it starts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const osModule = require('node:os') as { cpus: typeof os.cpus };
  const realCpus = osModule.cpus;
  if (threads > 1) {
    const fake = realCpus();
    osModule.cpus = () => Array.from({ length: 2 * threads }, (_, i) => fake[i % fake.length]);
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
    await tf.ready();
  } finally {
    osModule.cpus = realCpus;
  }
  const backend = tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } };
  return { ok, threads: backend.wasm.tfjs.getThreadsCount() };
}

async function main(): Promise<void> {
  const threads = arg('--threads', 2);
  const m = arg('--m', 2048);
  const k = arg('--k', 1024);
  const n = arg('--n', 1024);
  const { ok } = await initThreadedWasm(threads);
  const backend = tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number }; PThread?: { runningWorkers: unknown[]; unusedWorkers: unknown[] } } };
  const backendThreads = backend.wasm.tfjs.getThreadsCount();
  const pthreads = backend.wasm.PThread ? { running: backend.wasm.PThread.runningWorkers.length, unused: backend.wasm.PThread.unusedWorkers.length } : null;
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  const run = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  run();
  // Best of several: on a shared machine the minimum is the least disturbed measurement.
  const reps = arg('--reps', 10);
  let ms = Infinity;
  // CPU time over wall time: ~1 single-threaded, up to the thread count when the pool does work,
  // which still shows on a saturated machine where wall time cannot improve.
  const threadTicks = (): Map<string, number> => {
    const m = new Map<string, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
        m.set(tid, Number(rest[11]) + Number(rest[12])); // utime + stime
      } catch {
        // thread exited
      }
    }
    return m;
  };
  const ticks0 = threadTicks();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    ms = Math.min(ms, performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuPerWall = (cpu.user + cpu.system) / 1000 / (performance.now() - w0);
  const ticks1 = threadTicks();
  const perThread = [...ticks1].map(([tid, t]) => t - (ticks0.get(tid) ?? 0)).filter((t) => t > 0).sort((a, b) => b - a);
  const busiestShares = perThread.slice(0, 3).map((t) => +(t / perThread.reduce((a, b) => a + b, 0)).toFixed(2));
  const after = backend.wasm.PThread ? { running: backend.wasm.PThread.runningWorkers.length, unused: backend.wasm.PThread.unusedWorkers.length, threadsCount: backend.wasm.tfjs.getThreadsCount() } : null;
  const gflops = (2 * m * k * n) / (ms * 1e6);
  process.stdout.write(JSON.stringify({ threads, backendThreads, pthreads, osThreads: readdirSync('/proc/self/task').length, after, ok, m, k, n, ms: +ms.toFixed(2), gflops: +gflops.toFixed(2), cpuPerWall: +cpuPerWall.toFixed(2), busiestThreadShares: busiestShares, loadAvg: +os.loadavg()[0].toFixed(1) }) + '\n');
  // Worker threads keep the process alive.
  process.exit(0);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stdout.write(JSON.stringify({ threads: arg('--threads', 2), ok: false, error: String(e instanceof Error ? e.message : JSON.stringify(e)) }) + '\n');
    process.exit(1);
  });
}
