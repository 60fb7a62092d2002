/**
 * @file Block-quantised ggml data → float32: one entry point over the per-family dequantisers, and
 * the element range → block range arithmetic every reader of a block type needs.
 */
import { blockGeometry, type BlockType } from '../types';
import { dequantIQ4_NL, dequantIQ4_XS } from './iq4';
import { dequantQ2_K, dequantQ3_K, dequantQ4_K, dequantQ5_K, dequantQ6_K } from './kquants';
import { dequantQ4_0, dequantQ4_1, dequantQ5_0, dequantQ5_1, dequantQ8_0 } from './legacy';
import { dequantMxfp4Blocks } from './mxfp4';

type Dequant = (src: Uint8Array, out: Float32Array, blocks: number) => void;

const DEQUANT: Readonly<Record<BlockType, Dequant>> = {
  Q4_0: dequantQ4_0,
  Q4_1: dequantQ4_1,
  Q5_0: dequantQ5_0,
  Q5_1: dequantQ5_1,
  Q8_0: dequantQ8_0,
  Q2_K: dequantQ2_K,
  Q3_K: dequantQ3_K,
  Q4_K: dequantQ4_K,
  Q5_K: dequantQ5_K,
  Q6_K: dequantQ6_K,
  MXFP4: dequantMxfp4Blocks,
  IQ4_NL: dequantIQ4_NL,
  IQ4_XS: dequantIQ4_XS,
};

/** Where each block type keeps its f16 scales (and mins): byte offsets within a block. MXFP4's is an E8M0 byte. */
export const HALF_SCALE_OFFSETS: Readonly<Record<BlockType, readonly number[]>> = {
  Q4_0: [0],
  Q4_1: [0, 2],
  Q5_0: [0],
  Q5_1: [0, 2],
  Q8_0: [0],
  Q2_K: [80, 82],
  Q3_K: [108],
  Q4_K: [0, 2],
  Q5_K: [0, 2],
  Q6_K: [208],
  MXFP4: [],
  IQ4_NL: [0],
  IQ4_XS: [0],
};

/**
 * Whether every value of these whole blocks is finite, from the scales alone: with finite f16
 * scales every value is (the largest, 65504 · 32 · 127 for IQ4_XS, is far inside float32). MXFP4 can
 * overflow from its exponent and a large code, so its blocks are dequantised to tell.
 */
export function blocksFinite(type: BlockType, bytes: Uint8Array): boolean {
  if (type === 'MXFP4') {
    const step = 17 * 4096;
    for (let at = 0; at < bytes.length; at += step) {
      const values = dequantize(type, bytes.subarray(at, Math.min(bytes.length, at + step)));
      for (let i = 0; i < values.length; i++) {
        if (values[i] - values[i] !== 0) {
          return false;
        }
      }
    }
    return true;
  }
  const { typeSize } = blockGeometry(type);
  const offsets = HALF_SCALE_OFFSETS[type];
  for (let p = 0; p < bytes.length; p += typeSize) {
    for (const o of offsets) {
      // Exponent bits all ones: ±inf or NaN.
      if ((bytes[p + o + 1] & 0x7c) === 0x7c) {
        return false;
      }
    }
  }
  return true;
}

/** Whole blocks `bytes` (a multiple of the type's block bytes) → their values, float32. */
export function dequantize(type: BlockType, bytes: Uint8Array, out?: Float32Array): Float32Array {
  const { blockSize, typeSize } = blockGeometry(type);
  if (bytes.length % typeSize !== 0) {
    throw new Error(`${type}: ${bytes.length} bytes are not a whole number of ${typeSize}-byte blocks`);
  }
  const blocks = bytes.length / typeSize;
  const dst = out ?? new Float32Array(blocks * blockSize);
  if (dst.length < blocks * blockSize) {
    throw new Error(`${type}: output of ${dst.length} values is shorter than ${blocks} blocks of ${blockSize}`);
  }
  DEQUANT[type](bytes, dst, blocks);
  return dst;
}

/** The blocks that hold elements [from, from + count), and those blocks' byte range within the tensor. */
export function blockSpan(type: BlockType, from: number, count: number): { firstBlock: number; blocks: number; byteFrom: number; byteTo: number; skip: number } {
  const { blockSize, typeSize } = blockGeometry(type);
  const firstBlock = Math.floor(from / blockSize);
  const endBlock = Math.ceil((from + count) / blockSize);
  return { firstBlock, blocks: endBlock - firstBlock, byteFrom: firstBlock * typeSize, byteTo: endBlock * typeSize, skip: from - firstBlock * blockSize };
}

/**
 * Elements [from, from + count) of a block-typed tensor, given the bytes of the blocks that hold
 * them (`blockSpan`'s byteFrom..byteTo): dequantised, then cut to the range when it is not block-aligned.
 */
export function dequantizeRange(type: BlockType, spanBytes: Uint8Array, from: number, count: number): Float32Array {
  const span = blockSpan(type, from, count);
  const all = dequantize(type, spanBytes);
  return span.skip === 0 && all.length === count ? all : all.slice(span.skip, span.skip + count);
}
