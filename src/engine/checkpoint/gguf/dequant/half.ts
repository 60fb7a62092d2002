/**
 * @file The f16 block scales of the quantised types, read as float32 (exact: every half is a float32).
 */
import { halfToFloat } from '../../dtypes';

let table: Float32Array | undefined;

/** The little-endian half at `src[p]`, as float32, by a 65536-entry table. */
export function halfAt(src: Uint8Array, p: number): number {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      table[h] = halfToFloat(h);
    }
  }
  return table[src[p] | (src[p + 1] << 8)];
}
