/**
 * @file Block data for test and benchmark GGUF files: quantisers for every block type (Q8_0 and Q4_0
 * bit-exact with llama.cpp's reference, test/fixtures/gguf/dequant_goldens.json; the others simple,
 * simpleQuantize.ts), and valid random blocks of every block type (random quants, sane
 * positive f16 scales), fast enough for a multi-GB Q4_K_M file. Read the values a block stands for
 * back with the engine's `dequantize` (src/engine/checkpoint/gguf/dequant), which is checked
 * bit-exact against llama.cpp's reference.
 */
import { HALF_SCALE_OFFSETS } from '../../src/engine/checkpoint/gguf/dequant/index';
import { blockGeometry, type BlockType } from '../../src/engine/checkpoint/gguf/types';
import { toF16 } from '../../test/helpers/writeSafetensors';
import { quantIQ4_NL, quantIQ4_XS, quantMinScale, quantMxfp4, quantQ2_K, quantQ3_K, quantQ4_K, quantQ5_0, quantQ5_K, quantQ6_K } from './simpleQuantize';

function writeHalf(out: Uint8Array, p: number, v: number): void {
  const h = toF16(v);
  out[p] = h & 0xff;
  out[p + 1] = h >> 8;
}

/** Q8_0: d = max|x| / 127, q = round(x · (1/d)) half away from zero, as llama.cpp's reference (gguf-py quants.py). */
function quantQ8_0(values: ArrayLike<number>, out: Uint8Array): void {
  for (let b = 0; b * 32 < values.length; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      amax = Math.max(amax, Math.abs(values[b * 32 + j]));
    }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    writeHalf(out, b * 34, d);
    for (let j = 0; j < 32; j++) {
      const x = Math.fround(values[b * 32 + j] * id);
      out[b * 34 + 2 + j] = (Math.sign(x) * Math.round(Math.abs(x))) & 0xff;
    }
  }
}

/** Q4_0: d = (the value of largest magnitude) / −8, q = min(15, trunc(x / d + 8.5)), as llama.cpp's reference (gguf-py quants.py). */
function quantQ4_0(values: ArrayLike<number>, out: Uint8Array): void {
  for (let b = 0; b * 32 < values.length; b++) {
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = values[b * 32 + j];
      if (Math.abs(v) > Math.abs(max)) {
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    writeHalf(out, b * 18, d);
    for (let j = 0; j < 16; j++) {
      // x · id + 8.5 in double (as the reference, whose rounding depends on it), rounded to float32, truncated.
      const lo = Math.min(15, Math.trunc(Math.fround(values[b * 32 + j] * id + 8.5)));
      const hi = Math.min(15, Math.trunc(Math.fround(values[b * 32 + j + 16] * id + 8.5)));
      out[b * 18 + 2 + j] = lo | (hi << 4);
    }
  }
}

/**
 * Values → blocks of `type`: Q8_0 and Q4_0 byte-exact with llama.cpp's reference quantisers, the
 * others by the simple quantisers of simpleQuantize.ts (valid blocks near the values). The values a
 * quantised file stands for are its blocks dequantised, not `values`.
 */
export function quantize(type: BlockType, values: ArrayLike<number>): Uint8Array {
  const { blockSize, typeSize } = blockGeometry(type);
  if (values.length % blockSize !== 0) {
    throw new Error(`${values.length} values are not a whole number of ${type} blocks of ${blockSize}`);
  }
  const out = new Uint8Array((values.length / blockSize) * typeSize);
  const quantiser: Record<BlockType, (v: ArrayLike<number>, o: Uint8Array) => void> = {
    Q8_0: quantQ8_0,
    Q4_0: quantQ4_0,
    Q4_1: (v, o) => quantMinScale(v, o, 4),
    Q5_0: quantQ5_0,
    Q5_1: (v, o) => quantMinScale(v, o, 5),
    Q2_K: quantQ2_K,
    Q3_K: quantQ3_K,
    Q4_K: quantQ4_K,
    Q5_K: quantQ5_K,
    Q6_K: quantQ6_K,
    MXFP4: quantMxfp4,
    IQ4_NL: quantIQ4_NL,
    IQ4_XS: quantIQ4_XS,
  };
  quantiser[type](values, out);
  return out;
}

/** Deterministic 32-bit PRNG (xorshift32): the same seed gives the same file. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/**
 * Largest |value| / d a random block of each type can reach (codes × sub-scales), so `randomBlocks`
 * can pick d for values within ±`scale`; for the types with mins, the min's factor too.
 */
const RANDOM_REACH: Readonly<Record<Exclude<BlockType, 'MXFP4'>, { d: number; min?: number }>> = {
  Q4_0: { d: 8 },
  Q4_1: { d: 15 },
  Q5_0: { d: 16 },
  Q5_1: { d: 31 },
  Q8_0: { d: 128 },
  Q2_K: { d: 45, min: 15 },
  Q3_K: { d: 128 },
  Q4_K: { d: 945, min: 63 },
  Q5_K: { d: 1953, min: 63 },
  Q6_K: { d: 4096 },
  IQ4_NL: { d: 127 },
  IQ4_XS: { d: 32 * 127 },
};

/**
 * `blocks` valid random blocks of `type`, values within about ±`scale` (weights-like: a random model
 * of them stays finite through many layers): every quant bit random, each f16 scale a random positive
 * value in [¼, 1] of the one that reaches `scale`; Q4_1/Q5_1's min centres the codes on 0; MXFP4
 * exponents so that the largest code is about `scale`. `next` is the random source (xorshift32(seed)).
 */
export function randomBlocks(type: BlockType, blocks: number, next: () => number, scale = 0.05): Uint8Array {
  const { typeSize } = blockGeometry(type);
  const out = new Uint8Array(blocks * typeSize);
  const words = Math.floor(out.length / 4);
  const u32 = new Uint32Array(out.buffer, 0, words);
  for (let i = 0; i < words; i++) {
    u32[i] = next();
  }
  for (let i = words * 4; i < out.length; i++) {
    out[i] = next() & 0xff;
  }
  if (type === 'MXFP4') {
    // value = code × 2^(e − 128), codes up to 12: e such that 12 × 2^(e − 128) ≤ scale, minus 0…3.
    const top = Math.floor(Math.log2(scale / 12)) + 128;
    for (let b = 0; b < blocks; b++) {
      out[b * typeSize] = Math.max(2, top - (next() & 3));
    }
    return out;
  }
  const reach = RANDOM_REACH[type];
  const [dAt, minAt] = HALF_SCALE_OFFSETS[type];
  const centred = type === 'Q4_1' || type === 'Q5_1';
  for (let b = 0; b < blocks; b++) {
    const p = b * typeSize;
    const d = (scale / reach.d) * (0.25 + (0.75 * (next() & 0xffff)) / 0xffff);
    writeHalf(out, p + dAt, d);
    if (minAt !== undefined) {
      writeHalf(out, p + minAt, centred ? (-d * reach.d) / 2 : (scale / (reach.min ?? 1)) * (0.25 + (0.75 * (next() & 0xffff)) / 0xffff));
    }
  }
  return out;
}
