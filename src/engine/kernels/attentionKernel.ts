/**
 * @file Causal grouped-query attention on the wasm heap, one call per layer instead of a dozen tfjs
 * ops per head and query block: per head, per query block, scores = q·kᵀ (the GEMM kernel, keys up
 * to the block's end only), a row softmax over the keys each query may see (causal, sliding window),
 * then probabilities·v into the head's columns of the output. A thread takes a range of heads.
 *
 * Bit-exactness with a tail pass (incremental re-analysis) holds as in attention.ts: blocks sit at
 * fixed positions of the window, a score is one dot product over the head dimension, a row's softmax
 * (softmaxKernel.ts) depends only on its own scores and their columns, and probabilities·v sums the block's keys in order (masked keys
 * add exact zeros).
 */
import { PANEL, packedFloats } from './gemmModule';
import type { GemmExports } from './kernelModule';

/** One layer's attention, as pointers (bytes) into the heap; a thread runs heads h0 … h1−1. */
export class AttentionCall {
  static readonly INTS = 17;
  constructor(
    readonly q: number, // [T, H, hd]
    readonly k: number, // [S, KV, hd], S = P + T
    readonly v: number, // [S, KV, hdv]
    readonly out: number, // [T, H·hdv]
    readonly T: number,
    readonly P: number, // positions before the first query (a cached prefix)
    readonly H: number,
    readonly KV: number,
    readonly hd: number,
    readonly hdv: number,
    readonly window: number, // 0: full causal; else keys at distance ≥ window are masked
    readonly block: number, // query rows per block, blocks at multiples of it
    readonly h0: number,
    readonly h1: number,
    readonly scores: number, // scratch: block × keys8 floats
    readonly keys: number, // scratch: packed kᵀ, hd × keys8 floats
    readonly values: number, // scratch: packed v, keys × hdv8 floats
    readonly scale: number,
  ) {}

  ints(): number[] {
    const { q, k, v, out, T, P, H, KV, hd, hdv, window, block, h0, h1, scores, keys, values } = this;
    return [q, k, v, out, T, P, H, KV, hd, hdv, window, block, h0, h1, scores, keys, values];
  }

  static read(a: Int32Array, floats: Float64Array): AttentionCall {
    const x = Array.from(a.subarray(0, AttentionCall.INTS));
    return new AttentionCall(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15], x[16], floats[0]);
  }

  withHeads(h0: number, h1: number, scratch: AttentionScratch): AttentionCall {
    const { q, k, v, out, T, P, H, KV, hd, hdv, window, block, scale } = this;
    return new AttentionCall(q, k, v, out, T, P, H, KV, hd, hdv, window, block, h0, h1, scratch.scores, scratch.keys, scratch.values, scale);
  }
}

export interface AttentionScratch {
  scores: number;
  keys: number;
  values: number;
}

/** Bytes of scratch one thread needs for a call over S keys (scores, packed kᵀ, packed v). */
export function scratchBytes(block: number, S: number, hd: number, hdv: number): { scores: number; keys: number; values: number } {
  const keys8 = Math.ceil(S / PANEL) * PANEL;
  return { scores: block * keys8 * 4, keys: packedFloats(hd, S) * 4, values: packedFloats(S, hdv) * 4 };
}

/** The keys [from, to) a query block [a, b) may see: its own end is the causal limit. */
function blockKeys(blockStart: number, b: number, window: number): [number, number] {
  return [window === 0 ? 0 : Math.max(0, blockStart - window + 1), b];
}

/** Heads h0 … h1−1 of one layer's attention (see the file comment). */
export function attentionHeads(gemm: GemmExports, c: AttentionCall): void {
  const groups = c.H / c.KV;
  const S = c.P + c.T;
  const hdv8 = Math.ceil(c.hdv / PANEL) * PANEL;
  for (let a = c.P; a < S; a = (Math.floor(a / c.block) + 1) * c.block) {
    const blockStart = Math.floor(a / c.block) * c.block;
    const b = Math.min(S, blockStart + c.block);
    const [from, to] = blockKeys(blockStart, b, c.window);
    const n = to - from;
    const n8 = Math.ceil(n / PANEL) * PANEL;
    const rows = b - a;
    let packedGroup = -1;
    for (let h = c.h0; h < c.h1; h++) {
      const g = Math.floor(h / groups);
      if (g !== packedGroup) {
        // kᵀ of this group's keys [from, to): B[d][j] = k[from + j, g, d]
        gemm.packT(c.k + (from * c.KV + g) * c.hd * 4, c.KV * c.hd * 4, c.hd, n, c.keys);
        gemm.pack(c.v + (from * c.KV + g) * c.hdv * 4, c.KV * c.hdv * 4, n, c.hdv, c.values);
        packedGroup = g;
      }
      const qRows = c.q + ((a - c.P) * c.H + h) * c.hd * 4;
      gemm.gemm(qRows, c.H * c.hd * 4, c.keys, c.scores, n8 * 4, rows, c.hd, n8, 0, n8 / PANEL);
      gemm.softmax(c.scores, rows, n8, n, a, from, c.window, c.scale);
      const outRows = c.out + ((a - c.P) * c.H + h) * c.hdv * 4;
      gemm.gemm(c.scores, n8 * 4, c.values, outRows, c.H * c.hdv * 4, rows, n, hdv8, 0, hdv8 / PANEL);
    }
  }
}
