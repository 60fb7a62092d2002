/**
 * @file The dequantisers on hand-made numbers (nibble order, transposition, scale extremes,
 * partial FP8 edge blocks), quantization_config parsing and its refusals, and WeightReader's
 * quantised paths: per-expert MXFP4 ranges, mismatched configs, wrong scale grids.
 * Bit-exactness against numpy on real fixtures: test/golden/quantised.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { applyBlockScales, scaleGridShape } from '../../../src/engine/checkpoint/fp8Block';
import { dequantMxfp4, FP4_VALUES, mxfp4Shape } from '../../../src/engine/checkpoint/mxfp4';
import { parseQuantization, type Quantization } from '../../../src/engine/checkpoint/quantConfig';
import { widenedBytesPerElement } from '../../../src/engine/loadPlan';
import { WeightReader } from '../../../src/engine/weights';
import { StreamedWeights } from '../../../src/engine/weightSource';
import { rawSafetensors, writeSafetensors, type TensorSpec } from '../../helpers/writeSafetensors';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A one-file checkpoint; tensors named in `fp8` are relabelled F8_E4M3 (the writer knows only U8). */
function checkpointDir(tensors: Record<string, TensorSpec>, fp8: string[] = []): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-quant-'));
  dirs.push(dir);
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, tensors);
  const b = readFileSync(file);
  const len = Number(b.readBigUInt64LE(0));
  let header = b.subarray(8, 8 + len).toString();
  for (const name of fp8) {
    header = header.replace(`"${name}":{"dtype":"U8"`, `"${name}":{"dtype":"F8_E4M3"`);
  }
  writeFileSync(file, rawSafetensors(header, b.subarray(8 + len)));
  return dir;
}

async function reader(dir: string, quant: Quantization | null) {
  const ckpt = await openCheckpoint(dir, { checkFinite: true });
  return { r: new WeightReader(new StreamedWeights(ckpt), quant), ckpt };
}

describe('MXFP4 (convert_moe_packed_tensors)', () => {
  test('low nibble first, scale 2^(s−127), each expert transposed to [cols, rows]', () => {
    // 1 expert, 2 rows, 1 group of 32 columns. Row 0: bytes 0x21 (codes 1, 2 = 0.5, 1.0), rest 0xf8 (−0, −6).
    const blocks = new Uint8Array(32);
    blocks[0] = 0x21;
    blocks.fill(0xf8, 1, 16);
    blocks.fill(0x7b, 16, 32); // row 1: codes 0xb, 0x7 = −1.5, 6
    const scales = Uint8Array.of(128, 126); // row 0 ×2, row 1 ×0.5
    const out = dequantMxfp4(blocks, scales, 1, 2, 1); // [32, 2]
    assert.equal(out.length, 64);
    assert.deepEqual([out[0], out[2], out[4], out[6]], [1, 2, -0, -12]); // (col 0..3, row 0)
    assert.ok(Object.is(out[4], -0));
    assert.deepEqual([out[1], out[3]], [-0.75, 3]); // (col 0, 1; row 1)
  });

  test('scale extremes: 0 gives float32 subnormals, 255 overflows to ±inf and NaN for a zero code, as torch', () => {
    const blocks = new Uint8Array(16).fill(0x10); // codes 0, 1 (0, 0.5) repeated
    const tiny = dequantMxfp4(blocks, Uint8Array.of(0), 1, 1, 1);
    assert.equal(tiny[1], 2 ** -128);
    assert.equal(tiny[0], 0);
    const huge = dequantMxfp4(blocks, Uint8Array.of(255), 1, 1, 1);
    assert.ok(Number.isNaN(huge[0]));
    assert.equal(huge[1], Infinity);
    assert.equal(dequantMxfp4(blocks, Uint8Array.of(254), 1, 1, 1)[1], 2 ** 126);
  });

  test('equals the element-by-element definition for rows that do not fill the last tile', () => {
    const [E, rows, G] = [2, 70, 2];
    const blocks = Uint8Array.from({ length: E * rows * G * 16 }, (_, i) => (i * 2654435761) >>> 24);
    const scales = Uint8Array.from({ length: E * rows * G }, (_, i) => 100 + (i % 50));
    const want = new Float32Array(E * G * 32 * rows);
    for (let e = 0; e < E; e++) {
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < G * 32; c++) {
          const byte = blocks[((e * rows + r) * G + Math.floor(c / 32)) * 16 + Math.floor((c % 32) / 2)];
          const code = c % 2 === 0 ? byte & 0x0f : byte >> 4;
          want[(e * G * 32 + c) * rows + r] = FP4_VALUES[code] * 2 ** (scales[(e * rows + r) * G + Math.floor(c / 32)] - 127);
        }
      }
    }
    assert.deepEqual(dequantMxfp4(blocks, scales, E, rows, G), want);
  });

  test('shapes must be [E, rows, G, 16] and [E, rows, G]', () => {
    assert.deepEqual(mxfp4Shape([4, 6, 2, 16], [4, 6, 2]), { experts: 4, rows: 6, groups: 2, cols: 64 });
    assert.throws(() => mxfp4Shape([4, 6, 2, 16], [4, 6, 3]), /must be \[E, rows, G, 16\]/);
    assert.throws(() => mxfp4Shape([4, 6, 32], [4, 6]), /must be/);
    assert.throws(() => dequantMxfp4(new Uint8Array(16), new Uint8Array(2), 1, 1, 1), /do not make 1 experts/);
  });
});

describe('block FP8', () => {
  test('edge blocks are partial: [3, 5] with [2, 2] blocks uses a [2, 3] scale grid', () => {
    assert.deepEqual(scaleGridShape([3, 5], [2, 2]), [2, 3]);
    const w = new Float32Array(15).fill(1);
    const s = Float32Array.of(1, 2, 3, 4, 5, 6);
    applyBlockScales(w, [3, 5], s, [2, 2]);
    assert.deepEqual(Array.from(w), [1, 1, 2, 2, 3, /**/ 1, 1, 2, 2, 3, /**/ 4, 4, 5, 5, 6]);
  });

  test('leading dimensions are separate matrices; products round once to float32', () => {
    const w = Float32Array.of(1, 3, 1, 3);
    applyBlockScales(w, [2, 1, 2], Float32Array.of(0.1, 0.2), [1, 2]);
    assert.deepEqual(Array.from(w), [Math.fround(0.1), Math.fround(Math.fround(0.1) * 3), Math.fround(0.2), Math.fround(Math.fround(0.2) * 3)]);
    assert.throws(() => applyBlockScales(new Float32Array(4), [2, 2], new Float32Array(2), [1, 1]), /needs scales \[2, 2\]/);
  });
});

describe('quantization_config', () => {
  test('none, mxfp4, and fp8 with its block size (transformers\' default 128×128)', () => {
    assert.equal(parseQuantization({}), null);
    assert.deepEqual(parseQuantization({ quantization_config: { quant_method: 'mxfp4', modules_to_not_convert: ['lm_head'] } }), { method: 'mxfp4' });
    assert.deepEqual(parseQuantization({ quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 64] } }), {
      method: 'fp8',
      blockSize: [128, 64],
    });
    assert.deepEqual(parseQuantization({ quantization_config: { quant_method: 'fp8' } }), { method: 'fp8', blockSize: [128, 128] });
  });

  test('every other method and every fp8 variant the engine cannot honour is refused in one line', () => {
    assert.throws(() => parseQuantization({ quantization_config: { quant_method: 'gptq', bits: 4 } }), /'quant_method' is "gptq"; MoE Lens reads float checkpoints/);
    assert.throws(() => parseQuantization({ quantization_config: { bits: 4 } }), /'quant_method' is undefined/);
    assert.throws(() => parseQuantization({ quantization_config: { quant_method: 'fp8', fmt: 'e5m2' } }), /'fmt' is "e5m2"/);
    assert.throws(() => parseQuantization({ quantization_config: { quant_method: 'fp8', activation_scheme: 'static' } }), /'activation_scheme' is "static"/);
    assert.throws(() => parseQuantization({ quantization_config: { quant_method: 'fp8', weight_block_size: [128] } }), /'weight_block_size' must be two positive integers/);
    assert.throws(() => parseQuantization({ quantization_config: 'fp8' }), /must be an object/);
  });
});

describe('WeightReader on quantised tensors', () => {
  // 3 experts, rows 2, 1 group: distinct bytes per expert so a wrong range shows.
  const E = 3;
  const blocks = Uint8Array.from({ length: E * 2 * 16 }, (_, i) => (i * 37) & 0x77);
  const scales = Uint8Array.from({ length: E * 2 }, (_, i) => 120 + i);
  const mx: Record<string, TensorSpec> = {
    'x.w_blocks': { dtype: 'U8', shape: [E, 2, 1, 16], data: blocks },
    'x.w_scales': { dtype: 'U8', shape: [E, 2, 1], data: scales },
  };

  test('an expert range reads only those experts and equals that slice of the whole tensor', async () => {
    const { r, ckpt } = await reader(checkpointDir(mx), { method: 'mxfp4' });
    try {
      const whole = await r.read('x.w', [E, 32, 2]);
      assert.deepEqual(whole, dequantMxfp4(blocks, scales, E, 2, 1));
      const one = await r.mxfp4Experts('x.w', [E, 32, 2], 1, 2);
      assert.deepEqual(one, whole.subarray(64, 128));
      await assert.rejects(r.mxfp4Experts('x.w', [E, 32, 2], 2, 4), /experts \[2, 4\) of 'x\.w' are outside its 3 experts/);
      await assert.rejects(r.read('x.w', [E, 2, 32]), /has shape \[3,32,2\] \(dequantised from MXFP4\), but config\.json implies \[3,2,32\]/);
      assert.deepEqual(await ckpt.readRaw('x.w_scales', 2, 4), scales.subarray(2, 4));
      await assert.rejects(ckpt.readRaw('x.w_scales', 4, 7), /byte range \[4, 7\) is outside the tensor's 6 bytes/);
    } finally {
      await ckpt.close();
    }
  });

  test('quantised tensors under a config that does not declare their method are refused', async () => {
    const dir = checkpointDir({
      ...mx,
      'y.weight': { dtype: 'U8', shape: [2, 2], data: Uint8Array.of(0x38, 0x38, 0x38, 0x38) },
      'y.weight_scale_inv': { dtype: 'F32', shape: [1, 1], data: [0.5] },
    }, ['y.weight']);
    const { r, ckpt } = await reader(dir, null);
    try {
      await assert.rejects(r.read('x.w', [E, 32, 2]), /stored as MXFP4 blocks and scales, but config\.json's quantization_config does not say quant_method 'mxfp4'/);
      await assert.rejects(r.read('y.weight', [2, 2]), /is FP8 with block scales \('y\.weight_scale_inv'\), but config\.json's quantization_config does not say quant_method 'fp8'/);
    } finally {
      await ckpt.close();
    }
  });

  test('FP8: value × block scale; a scale grid that does not fit weight_block_size, a NaN code and an overflowing product are refused', async () => {
    const dir = checkpointDir({
      'y.weight': { dtype: 'U8', shape: [2, 3], data: Uint8Array.of(0x38, 0x40, 0x01, 0xb8, 0x7e, 0x00) }, // 1, 2, 2^-9, −1, 448, 0
      'y.weight_scale_inv': { dtype: 'F32', shape: [1, 2], data: [0.5, 4] },
      'z.weight': { dtype: 'U8', shape: [2, 3], data: new Uint8Array(6) },
      'z.weight_scale_inv': { dtype: 'F32', shape: [2, 2], data: [1, 1, 1, 1] },
      'nan.weight': { dtype: 'U8', shape: [1, 2], data: Uint8Array.of(0x38, 0xff) }, // 0xff: E4M3 NaN
      'nan.weight_scale_inv': { dtype: 'F32', shape: [1, 1], data: [1] },
      'big.weight': { dtype: 'U8', shape: [1, 2], data: Uint8Array.of(0x38, 0x7e) }, // 448 × 1e38 overflows
      'big.weight_scale_inv': { dtype: 'F32', shape: [1, 1], data: [1e38] },
    }, ['y.weight', 'z.weight', 'nan.weight', 'big.weight']);
    const { r, ckpt } = await reader(dir, { method: 'fp8', blockSize: [2, 2] });
    try {
      assert.deepEqual(Array.from(await r.read('y.weight', [2, 3])), [0.5, 1, 2 ** -7, -0.5, 224, 0]);
      await assert.rejects(r.read('z.weight', [2, 3]), /'z\.weight_scale_inv' has shape \[2,2\] \(weight_block_size \[2, 2\]\), but config\.json implies \[1,2\]/);
      await assert.rejects(r.read('nan.weight', [1, 2]), /nan\.weight.*holds 1 non-finite value \(first: NaN at \[0, 1\]\)/);
      await assert.rejects(r.read('big.weight', [1, 2]), /big\.weight.*holds 1 non-finite value \(first: Infinity at \[0, 1\]\)/);
    } finally {
      await ckpt.close();
    }
  });

  test('the memory plan counts two float32 values per MXFP4 block byte and nothing for the scales', async () => {
    const ckpt = await openCheckpoint(checkpointDir(mx));
    try {
      const widened = ckpt.names().reduce((sum, n) => sum + ckpt.info(n).shape.reduce((a, b) => a * b, 1) * widenedBytesPerElement(ckpt, n), 0);
      assert.equal(widened, E * 32 * 2 * 4);
    } finally {
      await ckpt.close();
    }
  });
});
