/**
 * @file MXFP4 (gpt-oss experts) → float32, exactly as transformers' `convert_moe_packed_tensors`:
 * `*_blocks` [E, rows, G, 16] u8 hold two FP4 (E2M1) codes per byte, low nibble first, and
 * `*_scales` [E, rows, G] u8 one power of two per 32 values (exponent + 127). Each expert's
 * [rows, G·32] matrix is then transposed, so gate_up_proj comes out [E, D, 2I] and down_proj
 * [E, I, D], the layout of an unquantised checkpoint.
 */

/** E2M1 code → value (transformers' FP4_VALUES). */
export const FP4_VALUES = Float32Array.of(0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6);

/** Values per scale: one byte of scale for 16 bytes (32 codes) of blocks. */
export const MXFP4_GROUP = 32;

/** Rows decoded together before the transposed write. */
const TILE = 64;

export interface Mxfp4Shape {
  experts: number; // E
  rows: number; // output rows as stored (2I for gate_up, D for down)
  groups: number; // G = cols / 32
  cols: number; // G · 32
}

/** The dequantised shape [E, cols, rows] follows from the blocks' and scales' shapes, which must agree. */
export function mxfp4Shape(blocks: readonly number[], scales: readonly number[]): Mxfp4Shape {
  const ok = blocks.length === 4 && blocks[3] === 16 && scales.length === 3 && scales.every((d, i) => d === blocks[i]);
  if (!ok) {
    throw new Error(`MXFP4 blocks [${blocks.join(', ')}] and scales [${scales.join(', ')}] must be [E, rows, G, 16] and [E, rows, G]`);
  }
  const [experts, rows, groups] = blocks;
  return { experts, rows, groups, cols: groups * MXFP4_GROUP };
}

/**
 * Dequantises `count` consecutive experts whose bytes are `blocks` (count·rows·G·16) and `scales`
 * (count·rows·G), into [count, cols, rows]. A streaming reader passes one expert's byte range.
 * value = FP4 × 2^(scale − 127) in float32; scale 255 gives ±inf (and NaN for a zero code), as torch.
 */
export function dequantMxfp4(blocks: Uint8Array, scales: Uint8Array, count: number, rows: number, groups: number): Float32Array {
  const cols = groups * MXFP4_GROUP;
  if (blocks.length !== count * rows * groups * 16 || scales.length !== count * rows * groups) {
    throw new Error(`MXFP4: ${blocks.length} block bytes and ${scales.length} scale bytes do not make ${count} experts of [${rows}, ${cols}]`);
  }
  // value[scale · 16 + code] = FP4 × float32 2^(scale − 127), each rounded once to float32 as torch's
  // multiply: 2^128 overflows to inf (and 0 × inf is NaN) exactly as torch.pow and ldexp do.
  const value = new Float32Array(256 * 16);
  for (let s = 0; s < 256; s++) {
    const pow2 = Math.fround(2 ** (s - 127));
    for (let c = 0; c < 16; c++) {
      value[s * 16 + c] = FP4_VALUES[c] * pow2;
    }
  }
  const out = new Float32Array(count * cols * rows);
  // Decoded a tile of TILE rows × 32 columns at a time, then written out column by column, so the
  // transposed writes land TILE floats at a time instead of one float every `rows`.
  const tile = new Float32Array(TILE * MXFP4_GROUP);
  for (let e = 0; e < count; e++) {
    const base = e * cols * rows;
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const n = Math.min(TILE, rows - r0);
      for (let g = 0; g < groups; g++) {
        for (let r = 0; r < n; r++) {
          const gi = (e * rows + r0 + r) * groups + g;
          const v = scales[gi] * 16;
          for (let b = 0, src = gi * 16, t = r; b < 16; b++, t += 2 * TILE) {
            const byte = blocks[src + b];
            tile[t] = value[v + (byte & 0x0f)];
            tile[t + TILE] = value[v + (byte >> 4)];
          }
        }
        for (let c = 0; c < MXFP4_GROUP; c++) {
          const dst = base + (g * MXFP4_GROUP + c) * rows + r0;
          for (let r = 0; r < n; r++) {
            out[dst + r] = tile[c * TILE + r];
          }
        }
      }
    }
  }
  return out;
}
