/**
 * @file The test writer's quantisers (tools/gguf/quantize.ts): every block type's blocks, read back
 * with the engine's dequantiser, are within that type's usual error of the values that went in
 * (relative RMS error, bounds a little above llama.cpp's own for Gaussian weights), including a
 * block of zeros and a block with one outlier; random blocks are valid and finite.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blocksFinite, dequantize } from '../../../../src/engine/checkpoint/gguf/dequant/index';
import { blockGeometry, type BlockType } from '../../../../src/engine/checkpoint/gguf/types';
import { quantize, randomBlocks, xorshift32 } from '../../../../tools/gguf/quantize';

/** Relative RMS error bound per type: bits per weight decide it. */
const BOUND: Record<BlockType, number> = {
  Q8_0: 0.01,
  Q6_K: 0.03,
  Q5_0: 0.06,
  Q5_1: 0.06,
  Q5_K: 0.06,
  Q4_0: 0.12,
  Q4_1: 0.12,
  Q4_K: 0.12,
  IQ4_NL: 0.12,
  IQ4_XS: 0.12,
  MXFP4: 0.2,
  Q3_K: 0.25,
  Q2_K: 0.5,
};

/** Gaussian-ish values (sum of uniforms), scale 0.02 like weights; block 1 all zero, block 2 with an outlier. */
function weights(n: number, seed: number): Float32Array {
  const next = xorshift32(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < 4; k++) {
      s += next() / 2 ** 32 - 0.5;
    }
    v[i] = s * 0.035;
  }
  v.fill(0, 256, 512);
  v[600] = 0.3;
  return v;
}

function relRms(got: Float32Array, want: Float32Array): number {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < want.length; i++) {
    err += (got[i] - want[i]) ** 2;
    ref += want[i] ** 2;
  }
  return Math.sqrt(err / ref);
}

describe('GGUF test writer: quantisers', () => {
  for (const type of Object.keys(BOUND) as BlockType[]) {
    test(`${type}: blocks near the values`, () => {
      const values = weights(256 * 16, 5);
      const blocks = quantize(type, values);
      const { blockSize, typeSize } = blockGeometry(type);
      assert.equal(blocks.length, (values.length / blockSize) * typeSize);
      const back = dequantize(type, blocks);
      const e = relRms(back, values);
      assert.ok(e < BOUND[type], `${type}: relative RMS error ${e.toFixed(4)} ≥ ${BOUND[type]}`);
      assert.ok(back.subarray(256, 512).every((x) => x === 0), `${type}: a block of zeros stays zero`);
      assert.ok(e > 0);
    });
  }

  test('random blocks of every type are finite, and differ with the seed', () => {
    for (const type of Object.keys(BOUND) as BlockType[]) {
      const a = randomBlocks(type, 8, xorshift32(1));
      assert.ok(blocksFinite(type, a), type);
      assert.ok(dequantize(type, a).every((x) => Number.isFinite(x) && Math.abs(x) <= 0.11), type); // within about ±2 × the default scale 0.05
      assert.notDeepEqual(a, randomBlocks(type, 8, xorshift32(2)));
    }
  });
});
