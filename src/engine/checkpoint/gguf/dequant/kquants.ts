/**
 * @file The 256-value "k-quant" super-blocks Q2_K, Q3_K, Q4_K, Q5_K and Q6_K → float32, bit-exact
 * against llama.cpp's gguf-py quants.py (same float32 operations in the same order: the sub-block
 * scale d·sc and offset dmin·m are rounded to float32 first, then scale·q, then − offset, the last
 * rounding done by the store into the Float32Array).
 *
 * Layouts (bytes, in order):
 *   Q2_K  scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), f16 d, f16 dmin
 *   Q3_K  hmask[32], qs[64] (2 bits), scales[12] (16 × 6 bits), f16 d
 *   Q4_K  f16 d, f16 dmin, scales[12] (8 scales, 8 mins, 6 bits each), qs[128] (4 bits)
 *   Q5_K  f16 d, f16 dmin, scales[12], qh[32] (5th bit), qs[128]
 *   Q6_K  ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d
 * "2 bits" fields: value h·128 + s·32 + j is (qs[h·32 + j] >> 2s) & 3 (h < 2, s < 4, j < 32).
 */
import { halfAt } from './half';

const fr = Math.fround;

export function dequantQ2_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  const dl = new Float32Array(16);
  const ml = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const p = b * 84;
    const o = b * 256;
    const d = halfAt(src, p + 80);
    const dmin = halfAt(src, p + 82);
    for (let g = 0; g < 16; g++) {
      const sc = src[p + g];
      dl[g] = d * (sc & 0x0f);
      ml[g] = dmin * (sc >> 4);
    }
    for (let h = 0; h < 2; h++) {
      for (let s = 0; s < 4; s++) {
        for (let j = 0; j < 32; j++) {
          const i = h * 128 + s * 32 + j;
          const q = (src[p + 16 + h * 32 + j] >> (2 * s)) & 3;
          const g = i >> 4;
          out[o + i] = fr(dl[g] * q) - ml[g];
        }
      }
    }
  }
}

export function dequantQ3_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  const dl = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const p = b * 110;
    const o = b * 256;
    const d = halfAt(src, p + 108);
    const sp = p + 96;
    for (let k = 0; k < 16; k++) {
      const low = (src[sp + (k & 7)] >> (k < 8 ? 0 : 4)) & 0x0f;
      const high = (src[sp + 8 + (k & 3)] >> (2 * (k >> 2))) & 3;
      dl[k] = d * ((low | (high << 4)) - 32);
    }
    for (let h = 0; h < 2; h++) {
      for (let s = 0; s < 4; s++) {
        // Values h·128 + s·32 + j: low bits (qs[h·32 + j] >> 2s) & 3; the high bit is bit h·4 + s of
        // hmask[j], and a clear bit means −4. Sub-blocks of 16 share a scale.
        const base = h * 128 + s * 32;
        const bit = h * 4 + s;
        for (let half = 0; half < 2; half++) {
          const scale = dl[(base >> 4) + half];
          for (let j = half * 16; j < half * 16 + 16; j++) {
            const low = (src[p + 32 + h * 32 + j] >> (2 * s)) & 3;
            const minus4 = (((src[p + j] >> bit) & 1) ^ 1) << 2;
            out[o + base + j] = scale * (low - minus4);
          }
        }
      }
    }
  }
}

/** Q4_K/Q5_K's 8 six-bit scales and mins packed in 12 bytes at `src[p]`, into `sc` and `mn`. */
function scaleMin(src: Uint8Array, p: number, sc: Uint8Array, mn: Uint8Array): void {
  for (let i = 0; i < 4; i++) {
    sc[i] = src[p + i] & 0x3f;
    mn[i] = src[p + 4 + i] & 0x3f;
    sc[4 + i] = (src[p + 8 + i] & 0x0f) | ((src[p + i] >> 2) & 0x30);
    mn[4 + i] = (src[p + 8 + i] >> 4) | ((src[p + 4 + i] >> 2) & 0x30);
  }
}

export function dequantQ4_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let b = 0; b < blocks; b++) {
    const p = b * 144;
    const o = b * 256;
    const d = halfAt(src, p);
    const dmin = halfAt(src, p + 2);
    scaleMin(src, p + 4, sc, mn);
    for (let c = 0; c < 4; c++) {
      for (let s = 0; s < 2; s++) {
        const g = c * 2 + s;
        const scale = fr(d * sc[g]);
        const offset = fr(dmin * mn[g]);
        for (let j = 0; j < 32; j++) {
          const q = (src[p + 16 + c * 32 + j] >> (4 * s)) & 0x0f;
          out[o + g * 32 + j] = fr(scale * q) - offset;
        }
      }
    }
  }
}

export function dequantQ5_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let b = 0; b < blocks; b++) {
    const p = b * 176;
    const o = b * 256;
    const d = halfAt(src, p);
    const dmin = halfAt(src, p + 2);
    scaleMin(src, p + 4, sc, mn);
    for (let c = 0; c < 4; c++) {
      for (let s = 0; s < 2; s++) {
        const g = c * 2 + s;
        const scale = fr(d * sc[g]);
        const offset = fr(dmin * mn[g]);
        for (let j = 0; j < 32; j++) {
          const low = (src[p + 48 + c * 32 + j] >> (4 * s)) & 0x0f;
          const high = (src[p + 16 + j] >> g) & 1;
          out[o + g * 32 + j] = fr(scale * (low | (high << 4))) - offset;
        }
      }
    }
  }
}

export function dequantQ6_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  const dl = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const p = b * 210;
    const o = b * 256;
    const d = halfAt(src, p + 208);
    for (let g = 0; g < 16; g++) {
      const s = src[p + 192 + g];
      dl[g] = d * (s > 127 ? s - 256 : s);
    }
    for (let h = 0; h < 2; h++) {
      for (let s = 0; s < 4; s++) {
        // Values h·128 + s·32 + j: low 4 bits from ql[h·64 + (s mod 2)·32 + j] >> 4·⌊s/2⌋, high 2 bits
        // from qh[h·32 + j] >> 2s; sub-blocks of 16 share a scale.
        const base = h * 128 + s * 32;
        const lp = p + h * 64 + (s & 1) * 32;
        const lshift = 4 * (s >> 1);
        const hp = p + 128 + h * 32;
        for (let half = 0; half < 2; half++) {
          const scale = dl[(base >> 4) + half];
          for (let j = half * 16; j < half * 16 + 16; j++) {
            const q = ((src[lp + j] >> lshift) & 0x0f) | (((src[hp + j] >> (2 * s)) & 3) << 4);
            out[o + base + j] = scale * (q - 32);
          }
        }
      }
    }
  }
}
