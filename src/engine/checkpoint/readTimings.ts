/**
 * @file Where a run's time with the weights goes, for bench/streaming.ts: positioned reads (I/O in
 * libuv's thread pool, overlapping compute when read ahead), widening and dequantising on the main
 * thread, and the time the forward pass sat waiting for a weight. A process-wide tally, because the
 * checkpoint, the weight source and the weight reader all add to it; two performance.now() a read.
 */
export interface ReadTimings {
  /** Wall time with at least one positioned read in flight (reads ahead overlap compute and each other). */
  readMs: number;
  /** Σ bf16/f16/fp8 → float32 widening and MXFP4/FP8 block dequantisation (main thread, exclusive). */
  widenMs: number;
  /** Σ time a weight read kept the caller waiting, less the widening done meanwhile (the stall on I/O). */
  waitMs: number;
  bytesRead: number;
}

export const readTimings: ReadTimings = { readMs: 0, widenMs: 0, waitMs: 0, bytesRead: 0 };

let inFlight = 0;
let firstStarted = 0;

export function resetReadTimings(): void {
  Object.assign(readTimings, { readMs: 0, widenMs: 0, waitMs: 0, bytesRead: 0 });
  firstStarted = performance.now();
}

/** A positioned read begins. */
export function readStarted(): void {
  if (inFlight++ === 0) {
    firstStarted = performance.now();
  }
}

/** A positioned read of `bytes` ended (or failed with 0). */
export function readEnded(bytes: number): void {
  readTimings.bytesRead += bytes;
  if (--inFlight === 0) {
    readTimings.readMs += performance.now() - firstStarted;
  }
}

/** Runs `fn` and adds its duration to widenMs. */
export function timedWiden<T>(fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    readTimings.widenMs += performance.now() - t0;
  }
}

/** Awaits `p` and adds the wait, less the widening that happened meanwhile, to waitMs. */
export async function timedWait<T>(p: Promise<T>): Promise<T> {
  const t0 = performance.now();
  const widen0 = readTimings.widenMs;
  try {
    return await p;
  } finally {
    readTimings.waitMs += Math.max(0, performance.now() - t0 - (readTimings.widenMs - widen0));
  }
}
