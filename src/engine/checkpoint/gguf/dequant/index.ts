/**
 * @file Block-quantised ggml data → float32: one entry point over the per-family dequantisers, and
 * the element range → block range arithmetic every reader of a block type needs.
 */
import { blockGeometry, type BlockType } from '../types';
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
};

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
