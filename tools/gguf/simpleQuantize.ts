/**
 * @file Simple quantisers for the block types llama.cpp quantises with a search (Q4_1, Q5_0, Q5_1,
 * Q2_K…Q6_K, MXFP4): min/max scales and round-to-nearest, no error search. They write valid blocks
 * close to the values (their error is tested against bounds), which is what test files need: the
 * exact reference for a quantised file is its own blocks dequantised (`dequantize`), never the values
 * that went in. Layouts as in src/engine/checkpoint/gguf/dequant/.
 */
import { toF16 } from '../../test/helpers/writeSafetensors';
import { halfToFloat } from '../../src/engine/checkpoint/dtypes';

/** Writes v as f16 at out[p] and returns the f16 value as stored (what the dequantiser will use). */
function half(out: Uint8Array, p: number, v: number): number {
  const h = toF16(v);
  out[p] = h & 0xff;
  out[p + 1] = h >> 8;
  return halfToFloat(h);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}

function range(x: ArrayLike<number>, from: number, n: number): { min: number; max: number; amax: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < from + n; i++) {
    min = Math.min(min, x[i]);
    max = Math.max(max, x[i]);
  }
  return { min, max, amax: Math.max(Math.abs(min), Math.abs(max)) };
}

/** Packs 32 4-bit codes: code j < 16 in byte j's low nibble, j + 16 in its high nibble. */
function packNibbles(codes: ArrayLike<number>, out: Uint8Array, p: number): void {
  for (let j = 0; j < 16; j++) {
    out[p + j] = (codes[j] & 0x0f) | ((codes[j + 16] & 0x0f) << 4);
  }
}

/** Q4_1 / Q5_1: value = d·q + m with m the block minimum, q in [0, 2^bits). */
export function quantMinScale(values: ArrayLike<number>, out: Uint8Array, bits: 4 | 5): void {
  const size = bits === 4 ? 20 : 24;
  const levels = (1 << bits) - 1;
  const codes = new Uint8Array(32);
  for (let b = 0; b * 32 < values.length; b++) {
    const p = b * size;
    const { min, max } = range(values, b * 32, 32);
    const d = half(out, p, (max - min) / levels);
    const m = half(out, p + 2, min);
    let qh = 0;
    for (let j = 0; j < 32; j++) {
      codes[j] = d ? clamp(Math.round((values[b * 32 + j] - m) / d), 0, levels) : 0;
      qh |= (codes[j] >> 4) << j;
    }
    if (bits === 5) {
      new DataView(out.buffer, out.byteOffset).setUint32(p + 4, qh >>> 0, true);
    }
    packNibbles(codes, out, p + (bits === 4 ? 4 : 8));
  }
}

/** Q5_0: value = d·(q − 16), d = (largest-magnitude value) / −16, as Q4_0 with a fifth bit. */
export function quantQ5_0(values: ArrayLike<number>, out: Uint8Array): void {
  const codes = new Uint8Array(32);
  for (let b = 0; b * 32 < values.length; b++) {
    const p = b * 22;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = values[b * 32 + j];
      if (Math.abs(v) > Math.abs(max)) {
        max = v;
      }
    }
    const d = half(out, p, max / -16);
    let qh = 0;
    for (let j = 0; j < 32; j++) {
      codes[j] = d ? clamp(Math.round(values[b * 32 + j] / d) + 16, 0, 31) : 16;
      qh |= (codes[j] >> 4) << j;
    }
    new DataView(out.buffer, out.byteOffset).setUint32(p + 2, qh >>> 0, true);
    packNibbles(codes, out, p + 6);
  }
}

/**
 * Per-sub-block scale (and min) quantised against the super-block's f16 d (and dmin): returns the
 * integer scales, mins and the stored d, dmin. `signed`: values = d·sc·q (no min).
 */
function subScales(values: ArrayLike<number>, base: number, subs: number, len: number, qmax: number, scaleMax: number, withMin: boolean) {
  const scf = new Float64Array(subs);
  const mf = new Float64Array(subs);
  for (let s = 0; s < subs; s++) {
    const { min, max, amax } = range(values, base + s * len, len);
    if (withMin) {
      const lo = Math.min(0, min);
      scf[s] = (max - lo) / qmax;
      mf[s] = -lo;
    } else {
      scf[s] = amax / qmax;
    }
  }
  return { scf, mf, dWant: Math.max(...scf) / scaleMax, dminWant: Math.max(...mf) / scaleMax };
}

/** Q2_K, Q4_K, Q5_K: value = d·sc·q − dmin·m per sub-block. */
function quantKWithMin(values: ArrayLike<number>, out: Uint8Array, type: 'Q2_K' | 'Q4_K' | 'Q5_K'): void {
  const conf = { Q2_K: { size: 84, subs: 16, len: 16, qmax: 3, scaleMax: 15, dAt: 80, dminAt: 82 }, Q4_K: { size: 144, subs: 8, len: 32, qmax: 15, scaleMax: 63, dAt: 0, dminAt: 2 }, Q5_K: { size: 176, subs: 8, len: 32, qmax: 31, scaleMax: 63, dAt: 0, dminAt: 2 } }[type];
  const sc = new Uint8Array(conf.subs);
  const mn = new Uint8Array(conf.subs);
  const q = new Uint8Array(256);
  for (let b = 0; b * 256 < values.length; b++) {
    const p = b * conf.size;
    const { scf, mf, dWant, dminWant } = subScales(values, b * 256, conf.subs, conf.len, conf.qmax, conf.scaleMax, true);
    const d = half(out, p + conf.dAt, dWant);
    const dmin = half(out, p + conf.dminAt, dminWant);
    for (let s = 0; s < conf.subs; s++) {
      sc[s] = d ? clamp(Math.round(scf[s] / d), 0, conf.scaleMax) : 0;
      mn[s] = dmin ? clamp(Math.round(mf[s] / dmin), 0, conf.scaleMax) : 0;
      const step = Math.fround(d * sc[s]);
      const offset = Math.fround(dmin * mn[s]);
      for (let j = 0; j < conf.len; j++) {
        const i = s * conf.len + j;
        q[i] = step ? clamp(Math.round((values[b * 256 + i] + offset) / step), 0, conf.qmax) : 0;
      }
    }
    if (type === 'Q2_K') {
      for (let s = 0; s < 16; s++) {
        out[p + s] = sc[s] | (mn[s] << 4);
      }
      out.fill(0, p + 16, p + 80);
      for (let i = 0; i < 256; i++) {
        // value h·128 + s·32 + j sits in qs[h·32 + j] at bits 2s.
        const h = i >> 7;
        const s = (i >> 5) & 3;
        out[p + 16 + h * 32 + (i & 31)] |= q[i] << (2 * s);
      }
      continue;
    }
    for (let i = 0; i < 4; i++) {
      out[p + 4 + i] = (sc[i] & 0x3f) | ((sc[4 + i] >> 4) << 6);
      out[p + 8 + i] = (mn[i] & 0x3f) | ((mn[4 + i] >> 4) << 6);
      out[p + 12 + i] = (sc[4 + i] & 0x0f) | ((mn[4 + i] & 0x0f) << 4);
    }
    const qs = type === 'Q4_K' ? p + 16 : p + 48;
    if (type === 'Q5_K') {
      out.fill(0, p + 16, p + 48);
    }
    for (let c = 0; c < 4; c++) {
      for (let j = 0; j < 32; j++) {
        const lo = q[c * 64 + j];
        const hi = q[c * 64 + 32 + j];
        out[qs + c * 32 + j] = (lo & 0x0f) | ((hi & 0x0f) << 4);
        if (type === 'Q5_K') {
          out[p + 16 + j] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
        }
      }
    }
  }
}

/** Q3_K: value = d·(sc − 32)·q, q in −4…3; Q6_K: value = d·sc·(q − 32), q − 32 in −32…31. */
function quantKSigned(values: ArrayLike<number>, out: Uint8Array, type: 'Q3_K' | 'Q6_K'): void {
  const q3 = type === 'Q3_K';
  const size = q3 ? 110 : 210;
  const qmin = q3 ? -4 : -32;
  const qmax = q3 ? 3 : 31;
  const scaleMax = q3 ? 31 : 127;
  const q = new Int8Array(256);
  for (let b = 0; b * 256 < values.length; b++) {
    const p = b * size;
    out.fill(0, p, p + size);
    const { scf, dWant } = subScales(values, b * 256, 16, 16, -qmin, scaleMax, false);
    const d = half(out, p + (q3 ? 108 : 208), dWant);
    for (let s = 0; s < 16; s++) {
      const sc = d ? clamp(Math.round(scf[s] / d), 0, scaleMax) : 0;
      const step = Math.fround(d * sc);
      for (let j = 0; j < 16; j++) {
        q[s * 16 + j] = step ? clamp(Math.round(values[b * 256 + s * 16 + j] / step), qmin, qmax) : 0;
      }
      if (q3) {
        const u = sc + 32; // stored 6-bit, read back as u − 32
        out[p + 96 + (s & 7)] |= (u & 0x0f) << (s < 8 ? 0 : 4);
        out[p + 104 + (s & 3)] |= (u >> 4) << (2 * (s >> 2));
      } else {
        out[p + 192 + s] = sc;
      }
    }
    for (let i = 0; i < 256; i++) {
      const h = i >> 7;
      const k = i & 127;
      if (q3) {
        // low 2 bits in qs[h·32 + j] at bits 2s; hmask[j] bit h·4 + s set for q ≥ 0 (else q = low − 4).
        const s = k >> 5;
        const j = k & 31;
        out[p + 32 + h * 32 + j] |= (q[i] & 3) << (2 * s);
        if (q[i] >= 0) {
          out[p + j] |= 1 << (h * 4 + s);
        }
      } else {
        const u = q[i] + 32;
        out[p + h * 64 + (k & 63)] |= (u & 0x0f) << (4 * (k >> 6));
        out[p + 128 + h * 32 + (k & 31)] |= (u >> 4) << (2 * (k >> 5));
      }
    }
  }
}

/** MXFP4: a power-of-two scale 2^(e − 128) per 32 values (e as llama.cpp's reference picks it) and the nearest doubled E2M1 code. */
export function quantMxfp4(values: ArrayLike<number>, out: Uint8Array): void {
  const kvalues = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];
  const codes = new Uint8Array(32);
  for (let b = 0; b * 32 < values.length; b++) {
    const { amax } = range(values, b * 32, 32);
    const e = amax > 0 ? clamp(Math.floor(Math.log2(amax)) - 2 + 127, 2, 254) : 0;
    const d = 2 ** (e - 128);
    for (let j = 0; j < 32; j++) {
      let best = 0;
      for (let c = 1; c < 16; c++) {
        if (Math.abs(kvalues[c] * d - values[b * 32 + j]) < Math.abs(kvalues[best] * d - values[b * 32 + j])) {
          best = c;
        }
      }
      codes[j] = best;
    }
    out[b * 17] = e;
    packNibbles(codes, out, b * 17 + 1);
  }
}

export function quantQ2_K(values: ArrayLike<number>, out: Uint8Array): void {
  quantKWithMin(values, out, 'Q2_K');
}
export function quantQ4_K(values: ArrayLike<number>, out: Uint8Array): void {
  quantKWithMin(values, out, 'Q4_K');
}
export function quantQ5_K(values: ArrayLike<number>, out: Uint8Array): void {
  quantKWithMin(values, out, 'Q5_K');
}
export function quantQ3_K(values: ArrayLike<number>, out: Uint8Array): void {
  quantKSigned(values, out, 'Q3_K');
}
export function quantQ6_K(values: ArrayLike<number>, out: Uint8Array): void {
  quantKSigned(values, out, 'Q6_K');
}

const IQ4_KVALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** The code of kvalues_iq4nl whose value times `d` is nearest `x`. */
function nearestIq4(x: number, d: number): number {
  let best = 0;
  for (let c = 1; c < 16; c++) {
    if (Math.abs(IQ4_KVALUES[c] * d - x) < Math.abs(IQ4_KVALUES[best] * d - x)) {
      best = c;
    }
  }
  return best;
}

/** d so the block's largest magnitude lands on the table's end of its sign (−127 or 113). */
function iq4Scale(values: ArrayLike<number>, from: number, n: number): number {
  let max = 0;
  for (let i = from; i < from + n; i++) {
    if (Math.abs(values[i]) > Math.abs(max)) {
      max = values[i];
    }
  }
  return max >= 0 ? max / 113 : -max / 127;
}

/** IQ4_NL: value = d · kvalues_iq4nl[code], 32 per block. */
export function quantIQ4_NL(values: ArrayLike<number>, out: Uint8Array): void {
  const codes = new Uint8Array(32);
  for (let b = 0; b * 32 < values.length; b++) {
    const d = half(out, b * 18, iq4Scale(values, b * 32, 32));
    for (let j = 0; j < 32; j++) {
      codes[j] = d ? nearestIq4(values[b * 32 + j], d) : 8;
    }
    packNibbles(codes, out, b * 18 + 2);
  }
}

/** IQ4_XS: value = d · (s − 32) · kvalues_iq4nl[code], eight sub-blocks of 32 with 6-bit scales s. */
export function quantIQ4_XS(values: ArrayLike<number>, out: Uint8Array): void {
  const codes = new Uint8Array(32);
  const scf = new Float64Array(8);
  for (let b = 0; b * 256 < values.length; b++) {
    const p = b * 136;
    out.fill(0, p, p + 136);
    for (let ib = 0; ib < 8; ib++) {
      scf[ib] = Math.abs(iq4Scale(values, b * 256 + ib * 32, 32));
    }
    const d = half(out, p, Math.max(...scf) / 31);
    let high = 0;
    for (let ib = 0; ib < 8; ib++) {
      const s = (d ? clamp(Math.round(scf[ib] / d), 0, 31) : 0) + 32;
      out[p + 4 + (ib >> 1)] |= (s & 0x0f) << (4 * (ib & 1));
      high |= (s >> 4) << (2 * ib);
      const dl = Math.fround(d * (s - 32));
      for (let j = 0; j < 32; j++) {
        codes[j] = dl ? nearestIq4(values[b * 256 + ib * 32 + j], dl) : 8;
      }
      packNibbles(codes, out, p + 8 + ib * 16);
    }
    out[p + 2] = high & 0xff;
    out[p + 3] = high >> 8;
  }
}
