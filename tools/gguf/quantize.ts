/**
 * @file Block data for test and benchmark GGUF files: real quantisers for Q8_0 and Q4_0 (bit-exact
 * with llama.cpp's reference, test/fixtures/gguf/dequant_goldens.json), and valid random blocks of every block type (random quants, sane
 * positive f16 scales), fast enough for a multi-GB Q4_K_M file. Read the values a block stands for
 * back with the engine's `dequantize` (src/engine/checkpoint/gguf/dequant), which is checked
 * bit-exact against llama.cpp's reference.
 */
import { HALF_SCALE_OFFSETS } from '../../src/engine/checkpoint/gguf/dequant/index';
import { blockGeometry, type BlockType } from '../../src/engine/checkpoint/gguf/types';
import { toF16 } from '../../test/helpers/writeSafetensors';

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

/** Values → blocks of `type`: Q8_0 and Q4_0 only (use `randomBlocks` for the others). */
export function quantize(type: BlockType, values: ArrayLike<number>): Uint8Array {
  const { blockSize, typeSize } = blockGeometry(type);
  if (values.length % blockSize !== 0) {
    throw new Error(`${values.length} values are not a whole number of ${type} blocks of ${blockSize}`);
  }
  const out = new Uint8Array((values.length / blockSize) * typeSize);
  if (type === 'Q8_0') {
    quantQ8_0(values, out);
  } else if (type === 'Q4_0') {
    quantQ4_0(values, out);
  } else {
    throw new Error(`no quantiser for ${type} here: write random blocks (randomBlocks) and read their values back with dequantize`);
  }
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
 * `blocks` valid random blocks of `type`: every quant bit random, each f16 scale and min a random
 * positive value in [scale/4, scale] (so weights come out around ±`scale`·levels), MXFP4 exponents
 * within 2^-10…2^-3. `next` is the random source (xorshift32(seed)).
 */
export function randomBlocks(type: BlockType, blocks: number, next: () => number, scale = 0.01): Uint8Array {
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
  const fields = HALF_SCALE_OFFSETS[type];
  for (let b = 0; b < blocks; b++) {
    const p = b * typeSize;
    for (const f of fields) {
      writeHalf(out, p + f, scale * (0.25 + (0.75 * (next() & 0xffff)) / 0xffff));
    }
    if (type === 'MXFP4') {
      out[p] = 117 + (next() % 8); // 2^(e − 128): 2^-11 … 2^-4, times codes up to ±12
    }
  }
  return out;
}
