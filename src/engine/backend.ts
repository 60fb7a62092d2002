/**
 * @file The one place that knows about TensorFlow.js backends.
 *
 * Order of preference: tfjs-node ('tensorflow', native, an optional dependency that often fails to
 * install) → wasm (SIMD, the default here: the engine's own kernels do its matmuls, attention and
 * expert rows, kernels/wasmKernels.ts; with more than one thread on the threaded build's shared heap,
 * a kernel worker per extra core) → cpu (plain JS, last resort). `MOE_LENS_BACKEND` or an explicit
 * preference forces one and fails loudly if it cannot load. The wasm thread count is fixed when the
 * backend first starts (`MOE_LENS_THREADS`, `--threads`; default every core; 1 = single-threaded build).
 * All tensor code imports tfjs-core through this file's `tf` re-export, so no other file names a backend.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { defaultThreads, prepareThreadedWasm, settlePool, wasmThreadsInUse } from './kernels/wasmThreads';
import { installWasmKernels, ownKernelsWanted } from './kernels/wasmKernels';

export { tf };

export type BackendName = 'node' | 'wasm' | 'cpu';

/** Setting / flag value → the name tfjs registers the backend under. */
export const BACKEND_IDS: Readonly<Record<BackendName, string>> = Object.freeze({
  node: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
});

export const BACKEND_NAMES: readonly BackendName[] = Object.freeze(['node', 'wasm', 'cpu'] as const);

export function parseBackendName(value: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) {
    return value as BackendName;
  }
  throw new Error(`unknown backend '${value}'; use one of: ${BACKEND_NAMES.join(', ')}`);
}

/**
 * tfjs-backend-wasm is built for wasm32 with a growable heap whose ceiling is 4 GiB − 64 KiB
 * (its emscripten getHeapMax()); past that an allocation aborts the process.
 */
const WASM_HEAP_BYTES = 4294901760;

/** The most bytes of tensors a backend can hold, where it has a hard ceiling (wasm); null for none. */
export function tensorMemoryLimit(id: string): number | null {
  return id === BACKEND_IDS.wasm ? WASM_HEAP_BYTES : null;
}

/**
 * Copies of a weight a backend holds while it is used: the wasm backend's matMul packs each weight
 * into a second copy kept until the tensor is disposed (the engine's kernels, kernels/wasmKernels.ts,
 * as XNNPACK did before them; so a model whose weights fill half the heap already runs out).
 */
export function weightCopies(id: string): number {
  return id === BACKEND_IDS.wasm ? 2 : 1;
}

/** The most threads the setting and the flag accept. */
export const MAX_THREADS = 64;

/** A thread count from a setting or a flag: a whole number from 1 to MAX_THREADS. */
export function parseThreads(value: string | number, what = 'threads'): number {
  const n = typeof value === 'number' ? value : /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_THREADS)) {
    throw new Error(`${what} must be a whole number from 1 to ${MAX_THREADS}, got '${String(value)}'`);
  }
  return n;
}

/** Threads asked for before the wasm backend starts: argument, else MOE_LENS_THREADS, else every core. */
function wantedThreads(threads?: number): number {
  const env = process.env.MOE_LENS_THREADS?.trim();
  return threads ?? (env ? parseThreads(env, 'MOE_LENS_THREADS') : defaultThreads());
}

/** Threads of the wasm backend once it started (it cannot change within a process); null before. */
let wasmThreads: number | null = null;

/** How many threads the wasm backend computes with (1 before it starts or when it is not used). */
export function backendThreads(): number {
  return wasmThreads ?? 1;
}

let wasmPathsSet = false;
/** What this module last selected; tf.getBackend() itself would auto-initialise one before we choose. */
let active: string | null = null;

/** The .wasm binaries sit beside the bundle (esbuild copies them into dist/); under tsx, in the package. */
function wasmDir(): string {
  const candidates = [__dirname];
  try {
    candidates.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'));
  } catch {
    // bundled without node_modules: only __dirname can hold them
  }
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm')));
  if (!found) {
    throw new Error(`tfjs wasm binaries not found (looked in ${candidates.join(', ')})`);
  }
  return found + path.sep;
}

async function tryNode(): Promise<boolean> {
  try {
    // Native and optional: never bundled, required only when asked for; it registers 'tensorflow'.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
  } catch {
    return false;
  }
  return tf.setBackend(BACKEND_IDS.node).catch(() => false);
}

async function tryWasm(threads?: number): Promise<boolean> {
  if (wasmThreads !== null) {
    return tf.setBackend(BACKEND_IDS.wasm).catch(() => false);
  }
  const wanted = wantedThreads(threads);
  let started: { undo(): void } | null = null;
  if (!wasmPathsSet) {
    const dir = wasmDir();
    setWasmPaths(dir);
    wasmPathsSet = true;
    // With the engine's own kernels the second core is theirs (kernels/kernelPool.ts): the threaded
    // build is started for its shared heap only, XNNPACK on one thread, whose pool would otherwise
    // spin on the other core between the elementwise ops it still runs.
    const xnnThreads = ownKernelsWanted() ? 1 : wanted;
    const threaded = wanted > 1 ? prepareThreadedWasm(dir, xnnThreads) : { reason: 'one thread asked for' };
    if ('reason' in threaded) {
      if (wanted > 1) {
        process.stderr.write(`moe-lens: wasm threads unavailable (${threaded.reason}); running on one thread\n`);
      }
      // tfjs' own check says no under Node; said explicitly so the single-threaded build is the one started.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    } else {
      started = threaded;
    }
  }
  try {
    const ok = await tf.setBackend(BACKEND_IDS.wasm).catch(() => false);
    if (ok) {
      await tf.ready();
      const threaded = started !== null;
      started?.undo(); // before the kernel pool starts its workers (prepareThreadedWasm stands in for some)
      started = null;
      settlePool();
      const kernels = ownKernelsWanted() ? installWasmKernels(threaded ? wanted : 1) : null;
      wasmThreads = kernels ? kernels.threads : wasmThreadsInUse();
    }
    return ok;
  } finally {
    started?.undo();
  }
}

function prepareEngine(): void {
  // Production mode skips per-op debug checks; the engine checks its own inputs.
  tf.enableProdMode();
}

async function tryCpu(): Promise<boolean> {
  // Using an export keeps the package (and its backend registration) in the bundle: the package
  // declares itself side-effect free, so a bare import would be dropped by esbuild.
  if (!version_cpu) {
    return false;
  }
  return tf.setBackend(BACKEND_IDS.cpu);
}

const loaders: Readonly<Record<BackendName, (threads?: number) => Promise<boolean>>> = Object.freeze({
  node: tryNode,
  wasm: tryWasm,
  cpu: tryCpu,
});

/**
 * Selects and initialises a backend; resolves to the name that tfjs now runs (`tf.getBackend()`).
 * A forced backend (argument, else `MOE_LENS_BACKEND`) that cannot load is an error, not a fallback.
 * `threads` applies when the wasm backend starts in this process; later calls keep what it started with.
 */
export async function initBackend(pref?: BackendName, threads?: number): Promise<string> {
  prepareEngine();
  const envPref = process.env.MOE_LENS_BACKEND?.trim();
  const forced = pref ?? (envPref ? parseBackendName(envPref) : undefined);
  if (forced) {
    if (active === BACKEND_IDS[forced]) {
      return active;
    }
    if (!(await loaders[forced](threads))) {
      const hint = forced === 'node' ? ' (is the optional @tensorflow/tfjs-node installed?)' : '';
      throw new Error(`backend '${forced}' could not be loaded on this machine${hint}`);
    }
    await tf.ready();
    return (active = tf.getBackend());
  }
  if (active) {
    return active;
  }
  for (const name of BACKEND_NAMES) {
    if (await loaders[name](threads)) {
      await tf.ready();
      return (active = tf.getBackend());
    }
  }
  throw new Error('no TensorFlow.js backend could be loaded');
}

/** Makes `id` (a name initBackend returned) the active backend again, e.g. after another model switched it. */
export async function ensureBackend(id: string): Promise<void> {
  if (active !== id) {
    if (!(await tf.setBackend(id))) {
      throw new Error(`backend '${id}' is no longer available`);
    }
    active = id;
  }
}
