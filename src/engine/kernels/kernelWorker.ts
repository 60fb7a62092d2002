/**
 * @file The kernel worker thread (see kernelPool.ts): waits on the shared control block, runs its
 * half of an operation on the shared heap with its own kernel instances, and says when it is done.
 * Bundled as dist/kernelWorker.js; run from source under tsx.
 */
import { workerData } from 'node:worker_threads';
import { instantiateGemm } from './kernelModule';
import { CTRL, OP, type KernelWorkerData } from './kernelPool';
import { attentionHeads, AttentionCall } from './attentionKernel';

const data = workerData as KernelWorkerData;
const ctrl = new Int32Array(data.ctrl);
const floats = new Float64Array(data.floats);
const gemm = instantiateGemm(data.gemm, data.memory);

function run(op: number, a: Int32Array): void {
  if (op === OP.GEMM) {
    gemm.gemm(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
  } else if (op === OP.ATTENTION) {
    attentionHeads(gemm, AttentionCall.read(a, floats));
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
