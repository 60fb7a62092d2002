/**
 * @file The engine's second core: a worker thread with its own instance of the kernels on the same
 * shared heap as tfjs' threaded build, sharing each large matmul or layer's attention with the main thread.
 *
 * tfjs kernels are synchronous, so the main thread posts the operation through a shared control
 * block (Atomics.notify), then it and the worker claim chunks of it from a shared counter (chunks.ts)
 * until none are left, and the main thread blocks in Atomics.wait until the worker is done: no
 * event-loop turn, no copies. Chunks write disjoint rows or columns of the output, with the same
 * per-element arithmetic as one thread, so results are bit-identical whatever the split.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { CHUNKS_PER_THREAD, gemmChunk, runClaimed } from './chunks';
import { PANEL } from './gemmModule';
import type { GemmExports } from './kernelModule';

/** Control block layout (Int32Array indices). */
export const CTRL = Object.freeze({ SEQ: 0, DONE: 1, OP: 2, FAILED: 3, ARGS: 4, SIZE: 32 });
/** Operations a worker runs; their arguments follow CTRL.ARGS. */
export const OP = Object.freeze({ QUIT: 0, GEMM: 1, ATTENTION: 2 });

/** What a kernel worker is started with. */
export interface KernelWorkerData {
  memory: WebAssembly.Memory;
  gemm: WebAssembly.Module;
  ctrl: SharedArrayBuffer;
  /** Float64 arguments (attention scale), beside the Int32 control block. */
  floats: SharedArrayBuffer;
  /** The pool's chunk counter (index 0), shared by every thread. */
  counter: SharedArrayBuffer;
}

/** Longest a main thread waits for its worker's half before calling the worker lost. */
const WORKER_TIMEOUT_MS = 10 * 60_000;

function workerScript(): string {
  for (const candidate of [join(__dirname, 'kernelWorker.js'), join(__dirname, 'kernelWorker.ts')]) {
    if (existsSync(candidate)) {
      return candidate;
    }
  }
  throw new Error(`kernel worker script not found beside ${__dirname}`);
}

/** One worker thread and its control block. */
class KernelWorker {
  private readonly ctrl: Int32Array;
  readonly floats: Float64Array;
  private readonly worker: Worker;
  private broken: string | null = null;

  constructor(script: string, memory: WebAssembly.Memory, gemm: WebAssembly.Module, counter: SharedArrayBuffer) {
    const ctrl = new SharedArrayBuffer(CTRL.SIZE * 4);
    const floats = new SharedArrayBuffer(8 * 8);
    this.ctrl = new Int32Array(ctrl);
    this.floats = new Float64Array(floats);
    const workerData: KernelWorkerData = { memory, gemm, ctrl, floats, counter };
    // From source (tests, tsx), the worker needs tsx's require hook before it can load a .ts file.
    this.worker = script.endsWith('.ts')
      ? new Worker(`require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs'))}); require(${JSON.stringify(script)});`, { eval: true, workerData })
      : new Worker(script, { workerData });
    this.worker.on('error', (err) => {
      this.broken = err instanceof Error ? err.message : String(err);
    });
    this.worker.unref(); // a CLI run exits while the worker waits for work
  }

  post(op: number, args: readonly number[], floats: readonly number[]): void {
    if (this.broken !== null) {
      throw new Error(`the engine's kernel worker failed: ${this.broken}`);
    }
    const c = this.ctrl;
    c[CTRL.OP] = op;
    c[CTRL.FAILED] = 0;
    c.set(args, CTRL.ARGS);
    this.floats.set(floats);
    Atomics.add(c, CTRL.SEQ, 1);
    Atomics.notify(c, CTRL.SEQ);
  }

  wait(): void {
    const c = this.ctrl;
    const seq = Atomics.load(c, CTRL.SEQ);
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(c, CTRL.DONE);
      if (done === seq) {
        break;
      }
      if (Date.now() > deadline) {
        this.broken = 'it stopped answering';
        throw new Error("the engine's kernel worker stopped answering");
      }
      Atomics.wait(c, CTRL.DONE, done, 1000);
    }
    if (c[CTRL.FAILED] !== 0) {
      throw new Error("the engine's kernel worker failed on its part of an operation");
    }
  }

  dispose(): void {
    this.post(OP.QUIT, [], []);
    void this.worker.terminate();
  }
}

/** threads − 1 workers; the calling thread is the first of `threads`. */
export class KernelPool {
  private readonly workers: KernelWorker[];
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));

  constructor(memory: WebAssembly.Memory, gemm: WebAssembly.Module, threads: number) {
    const script = workerScript();
    this.workers = Array.from({ length: threads - 1 }, () => new KernelWorker(script, memory, gemm, this.counter.buffer as SharedArrayBuffer));
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs parts 1 … n−1 on the workers (`post(i)` gives part i's op and arguments) while the calling
   * thread runs part 0, and returns once every part is done. n ≤ threads.
   */
  private run(parts: number, post: (part: number) => { op: number; args: number[]; floats?: number[] }, own: () => void): void {
    const posted: KernelWorker[] = [];
    try {
      for (let i = 1; i < parts; i++) {
        const { op, args, floats } = post(i);
        this.workers[i - 1].post(op, args, floats ?? []);
        posted.push(this.workers[i - 1]);
      }
      own();
    } finally {
      posted.forEach((w) => w.wait());
    }
  }

  /**
   * Shares `chunks` chunks of one operation between every thread: each worker gets `post(i)` (its op,
   * with arguments that may differ per worker, e.g. its scratch) and the calling thread runs `own(chunk)`;
   * all claim chunks from the pool's counter (chunks.ts). Returns once every chunk is done.
   */
  share(chunks: number, post: (worker: number) => { op: number; args: number[]; floats?: number[] }, own: (chunk: number) => void): void {
    Atomics.store(this.counter, 0, 0);
    this.run(this.threads, (i) => post(i), () => runClaimed(this.counter, chunks, own));
  }

  /**
   * gemmModule.ts' `gemm` over rows 0 … m−1 and every panel, shared by all threads: in chunks of panels,
   * or of rows when there are too few panels to share (the engine's matmuls and bench/kernels.ts).
   */
  shareGemm(gemm: GemmExports, a: number, lda: number, bp: number, c: number, ldc: number, m: number, k: number, n8: number): void {
    const panels = n8 / PANEL;
    const byRows = panels < this.threads * CHUNKS_PER_THREAD;
    const chunks = Math.min(this.threads * CHUNKS_PER_THREAD, byRows ? m : panels);
    const args = [a, lda, bp, c, ldc, m, k, n8, byRows ? 1 : 0, chunks];
    this.share(chunks, () => ({ op: OP.GEMM, args }), (i) => gemmChunk(gemm, args, i));
  }

  dispose(): void {
    this.workers.forEach((w) => w.dispose());
  }
}
