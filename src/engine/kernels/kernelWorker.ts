/**
 * @file The kernel worker thread (see kernelPool.ts): waits on the shared control block, runs its
 * half of an operation on the shared heap with its own kernel instances, and says when it is done.
 * Bundled as dist/kernelWorker.js; run from source under tsx.
 */
import { workerData } from 'node:worker_threads';
import { instantiateGemm } from './kernelModule';
import { CTRL, OP, type KernelWorkerData } from './kernelPool';
import { AttentionCall } from './attentionKernel';
import { attentionChunk, gemmChunk, GEMM_ARGS, runClaimed } from './chunks';

const data = workerData as KernelWorkerData;
const ctrl = new Int32Array(data.ctrl);
const floats = new Float64Array(data.floats);
const counter = new Int32Array(data.counter);
const gemm = instantiateGemm(data.gemm, data.memory);

/** Claims chunks of the posted operation until none are left (chunks.ts). */
function run(op: number, a: Int32Array): void {
  if (op === OP.GEMM) {
    const args = Array.from(a.subarray(0, GEMM_ARGS));
    runClaimed(counter, args[GEMM_ARGS - 1], (i) => gemmChunk(gemm, args, i));
  } else if (op === OP.ATTENTION) {
    const call = AttentionCall.read(a, floats);
    const [unit, chunks] = [a[AttentionCall.INTS], a[AttentionCall.INTS + 1]];
    runClaimed(counter, chunks, (i) => attentionChunk(gemm, call, unit, i));
  }
}

// 0, not the current value: work may be posted before this thread is up.
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.SEQ, seen);
  const seq = Atomics.load(ctrl, CTRL.SEQ);
  if (seq === seen) {
    continue;
  }
  seen = seq;
  const op = ctrl[CTRL.OP];
  if (op === OP.QUIT) {
    break;
  }
  try {
    run(op, ctrl.subarray(CTRL.ARGS));
  } catch {
    ctrl[CTRL.FAILED] = 1;
  }
  Atomics.store(ctrl, CTRL.DONE, seq);
  Atomics.notify(ctrl, CTRL.DONE);
}
