/**
 * @file Block FP8 (DeepSeek-V3, Qwen3 `-FP8`) → float32: an F8_E4M3 weight [.., n, k] with
 * `weight_scale_inv` [.., ⌈n/bn⌉, ⌈k/bk⌉], one float per [bn, bk] block (`weight_block_size`),
 * edge blocks partial; value = E4M3 × scale in float32, as DeepSeek's `weight_dequant`.
 */

export type BlockSize = readonly [number, number];

/** The scale grid a weight of `shape` needs with `block` ([.., ⌈n/bn⌉, ⌈k/bk⌉]). */
export function scaleGridShape(shape: readonly number[], block: BlockSize): number[] {
  if (shape.length < 2) {
    throw new Error(`a block-FP8 weight must have at least 2 dimensions, got [${shape.join(', ')}]`);
  }
  const n = shape[shape.length - 2];
  const k = shape[shape.length - 1];
  return [...shape.slice(0, -2), Math.ceil(n / block[0]), Math.ceil(k / block[1])];
}

/**
 * Multiplies `w` (the weight already decoded from E4M3, shape `shape`) by its block scales, in
 * place, and returns it. Each product is rounded once to float32 (the exact double product, stored).
 */
export function applyBlockScales(w: Float32Array, shape: readonly number[], scales: Float32Array, block: BlockSize): Float32Array {
  const grid = scaleGridShape(shape, block);
  const n = shape[shape.length - 2];
  const k = shape[shape.length - 1];
  const [gn, gk] = grid.slice(-2);
  if (scales.length !== grid.reduce((a, b) => a * b, 1) || w.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new Error(`block-FP8 weight [${shape.join(', ')}] with blocks [${block.join(', ')}] needs scales [${grid.join(', ')}] (${scales.length} given)`);
  }
  const matrices = w.length / (n * k) || 0;
  for (let m = 0; m < matrices; m++) {
    for (let i = 0; i < n; i++) {
      const srow = (m * gn + Math.floor(i / block[0])) * gk;
      const row = (m * n + i) * k;
      for (let b = 0; b < gk; b++) {
        const s = scales[srow + b];
        for (let j = row + b * block[1], end = row + Math.min(k, (b + 1) * block[1]); j < end; j++) {
          w[j] *= s;
        }
      }
    }
  }
  return w;
}
