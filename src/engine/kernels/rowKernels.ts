/**
 * @file Gathering and scatter-adding whole rows on the wasm heap: how the MoE layer hands each
 * expert its tokens and sums their updates back. tfjs' wasm Gather and ScatterNd walk every element
 * through generic strided index code (about 9 ns an element, a quarter of the embedded model's
 * forward pass); a row is one contiguous copy here. ScatterNd adds duplicates in index order, as
 * tfjs does, so the sums are bit-identical to its kernel.
 */

/** out[i, :] = x[indices[i], :] (floats; offsets in floats). */
export function gatherRows(f: Float32Array, x: number, cols: number, indices: ArrayLike<number>, out: number): void {
  for (let i = 0; i < indices.length; i++) {
    const from = x + indices[i] * cols;
    f.copyWithin(out + i * cols, from, from + cols);
  }
}

/** out [rows, cols] = 0, then out[indices[i], :] += updates[i, :] in order of i. */
export function scatterAddRows(f: Float32Array, updates: number, cols: number, indices: ArrayLike<number>, out: number, rows: number): void {
  f.fill(0, out, out + rows * cols);
  for (let i = 0; i < indices.length; i++) {
    const dst = out + indices[i] * cols;
    const src = updates + i * cols;
    for (let c = 0; c < cols; c++) {
      f[dst + c] += f[src + c];
    }
  }
}
