/**
 * @file IQ4_NL and IQ4_XS → float32, bit-exact against llama.cpp's gguf-py quants.py: 4-bit codes
 * index a fixed non-linear table (kvalues_iq4nl). IQ4_NL: blocks of 32 = f16 d, 16 bytes of codes
 * (value j < 16 in byte j's low nibble, j + 16 in its high nibble), value = d · table[code].
 * IQ4_XS: blocks of 256 = f16 d, u16 high scale bits, 4 bytes of low scale bits, 128 bytes of codes;
 * 8 sub-blocks of 32 with a 6-bit scale s (low 4 bits from the nibble ib of scales_l, high 2 bits
 * from bits 2ib of scales_h), value = (d · (s − 32)) · table[code], codes laid out as IQ4_NL's.
 */
import { halfAt } from './half';

/** kvalues_iq4nl. */
const KVALUES = Int8Array.of(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

export function dequantIQ4_NL(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = b * 18;
    const o = b * 32;
    const d = halfAt(src, p);
    for (let j = 0; j < 16; j++) {
      const byte = src[p + 2 + j];
      out[o + j] = d * KVALUES[byte & 0x0f];
      out[o + j + 16] = d * KVALUES[byte >> 4];
    }
  }
}

export function dequantIQ4_XS(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = b * 136;
    const o = b * 256;
    const d = halfAt(src, p);
    const high = src[p + 2] | (src[p + 3] << 8);
    for (let ib = 0; ib < 8; ib++) {
      const low = (src[p + 4 + (ib >> 1)] >> (4 * (ib & 1))) & 0x0f;
      const s = low | (((high >> (2 * ib)) & 3) << 4);
      const dl = Math.fround(d * (s - 32));
      const q = p + 8 + ib * 16;
      for (let j = 0; j < 16; j++) {
        const byte = src[q + j];
        out[o + ib * 32 + j] = dl * KVALUES[byte & 0x0f];
        out[o + ib * 32 + j + 16] = dl * KVALUES[byte >> 4];
      }
    }
  }
}
