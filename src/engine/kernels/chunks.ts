/**
 * @file How a large operation is shared between the threads of a KernelPool: cut into more chunks than
 * threads, which each thread claims one at a time from a shared counter until none are left. A thread
 * that runs slower (a busy core, a later start) then simply takes fewer; with fixed halves the main
 * thread had waited 0.8 s of a 2,048-token prefill for its worker. Every chunk computes its outputs as
 * a single thread would, so which thread takes which chunk never changes a bit of the result.
 */
import type { GemmExports } from './kernelModule';
import { PANEL } from './gemmModule';
import { AttentionCall, attentionHeads } from './attentionKernel';

/** Chunks per thread: enough to even out, few enough that each still reuses its A block across panels. */
export const CHUNKS_PER_THREAD = 4;

/** Start of part i of n of [0, total). */
export const cut = (total: number, n: number, i: number): number => Math.round((total * i) / n);

/** Claims chunks from `counter` (index 0) and runs each, until all `chunks` are taken. */
export function runClaimed(counter: Int32Array, chunks: number, run: (chunk: number) => void): void {
  for (let i = Atomics.add(counter, 0, 1); i < chunks; i = Atomics.add(counter, 0, 1)) {
    run(i);
  }
}

/** GEMM arguments a chunk is cut from: [a, lda, bp, c, ldc, m, k, n8, byRows, chunks]. */
export const GEMM_ARGS = 10;

/** Chunk i of a GEMM: a range of panels, or of rows when there are too few panels to share. */
export function gemmChunk(gemm: GemmExports, x: ArrayLike<number>, i: number): void {
  const [a, lda, bp, c, ldc, m, k, n8, byRows, chunks] = Array.from({ length: GEMM_ARGS }, (_, j) => x[j]);
  if (byRows) {
    const r0 = cut(m, chunks, i);
    const r1 = cut(m, chunks, i + 1);
    if (r1 > r0) {
      gemm.gemm(a + r0 * lda, lda, bp, c + r0 * ldc, ldc, r1 - r0, k, n8, 0, n8 / PANEL);
    }
    return;
  }
  const p0 = cut(n8 / PANEL, chunks, i);
  const p1 = cut(n8 / PANEL, chunks, i + 1);
  if (p1 > p0) {
    gemm.gemm(a, lda, bp, c, ldc, m, k, n8, p0, p1);
  }
}

/** Chunk i of a layer's attention: heads [i·unit, (i+1)·unit) (a unit is one head, or a group sharing keys), with this thread's scratch. */
export function attentionChunk(gemm: GemmExports, call: AttentionCall, unit: number, i: number): void {
  attentionHeads(gemm, call.withHeads(i * unit, (i + 1) * unit, call));
}
