/**
 * @file The 32-value block types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 → float32, bit-exact against
 * llama.cpp's gguf-py quants.py: each value is computed with the same float32 operations in the same
 * order: every intermediate result is rounded to float32 (Math.fround), the last one by the store into
 * the Float32Array (the same rounding). A product or sum of two float32 values rounded once from the
 * double is exactly numpy's float32 result.
 *
 * Layouts (bytes): Q4_0 = f16 d, 16 × two nibbles; Q4_1 = f16 d, f16 m, nibbles; Q5_0 = f16 d,
 * u32 high bits, nibbles; Q5_1 = f16 d, f16 m, u32 high bits, nibbles; Q8_0 = f16 d, 32 × int8.
 * Nibbles: value j < 16 is byte j's low nibble, value j + 16 its high nibble.
 */
import { halfAt } from './half';

const fr = Math.fround;

export function dequantQ4_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = b * 18;
    const o = b * 32;
    const d = halfAt(src, p);
    for (let j = 0; j < 16; j++) {
      const byte = src[p + 2 + j];
      out[o + j] = d * ((byte & 0x0f) - 8);
      out[o + j + 16] = d * ((byte >> 4) - 8);
    }
  }
}

export function dequantQ4_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = b * 20;
    const o = b * 32;
    const d = halfAt(src, p);
    const m = halfAt(src, p + 2);
    for (let j = 0; j < 16; j++) {
      const byte = src[p + 4 + j];
      out[o + j] = fr(d * (byte & 0x0f)) + m;
      out[o + j + 16] = fr(d * (byte >> 4)) + m;
    }
  }
}

function highBits(src: Uint8Array, p: number): number {
  return (src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24)) >>> 0;
}

export function dequantQ5_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = b * 22;
    const o = b * 32;
    const d = halfAt(src, p);
    const qh = highBits(src, p + 2);
    for (let j = 0; j < 16; j++) {
      const byte = src[p + 6 + j];
      const lo = (byte & 0x0f) | (((qh >>> j) & 1) << 4);
      const hi = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[o + j] = d * (lo - 16);
      out[o + j + 16] = d * (hi - 16);
    }
  }
}

export function dequantQ5_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = b * 24;
    const o = b * 32;
    const d = halfAt(src, p);
    const m = halfAt(src, p + 2);
    const qh = highBits(src, p + 4);
    for (let j = 0; j < 16; j++) {
      const byte = src[p + 8 + j];
      const lo = (byte & 0x0f) | (((qh >>> j) & 1) << 4);
      const hi = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[o + j] = fr(d * lo) + m;
      out[o + j + 16] = fr(d * hi) + m;
    }
  }
}

export function dequantQ8_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  const s8 = new Int8Array(src.buffer, src.byteOffset, src.length);
  for (let b = 0; b < blocks; b++) {
    const p = b * 34;
    const o = b * 32;
    const d = halfAt(src, p);
    for (let j = 0; j < 32; j++) {
      out[o + j] = d * s8[p + 2 + j];
    }
  }
}
