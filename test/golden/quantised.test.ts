/**
 * @file Quantised checkpoints as they ship (test/fixtures/quantised, made by
 * tools/fixtures/make_quantised.py): gpt-oss MXFP4 experts, DeepSeek-V3 block FP8 (float32 scales)
 * and Qwen3-MoE block FP8 (BF16 scales).
 * (1) The engine's dequantised values equal numpy's re-implementation of transformers' decoding
 * bit for bit (sha256 of the float32 bytes), and E4M3 decodes as numpy's table for all 256 codes.
 * (2) The quantised checkpoint's trace equals, exactly, the trace of the same values saved as F32.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCheckpoint } from '../../src/engine/checkpoint/checkpoint';
import { fp8e4m3ToFloat } from '../../src/engine/checkpoint/dtypes';
import { readModelConfig } from '../../src/engine/checkpoint/modelFolder';
import { parseQuantization } from '../../src/engine/checkpoint/quantConfig';
import { WeightReader } from '../../src/engine/weights';
import { StreamedWeights } from '../../src/engine/weightSource';
import { writeSafetensors, type TensorSpec } from '../helpers/writeSafetensors';
import { BACKENDS, ROOT, runCliTrace, type CliTrace, type Fixture } from './fixtureGolden';

interface Golden {
  dequantised: Record<string, { shape: number[]; sha256_f32le: string; first: number[] }>;
  e4m3_f32_bits?: string[];
}

/** A quantised fixture: its input ids (no transformers reference: the F32 twin is the reference). */
function loadQuantised(name: string): Fixture {
  const dir = path.join(ROOT, 'test', 'fixtures', 'quantised', name);
  const input = JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8')) as { input_ids: number[][] };
  return { dir, ids: input.input_ids[0], expected: { moe_layers: [], logits: [] } };
}

const QUANT_SUFFIX = /_(blocks|scales|scale_inv)$/;

function golden(fx: Fixture): Golden {
  return JSON.parse(readFileSync(path.join(fx.dir, 'dequant.json'), 'utf8')) as Golden;
}

function sha256(data: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}

async function openReader(dir: string): Promise<{ r: WeightReader; close: () => Promise<void> }> {
  const ckpt = await openCheckpoint(dir, { checkFinite: true });
  return { r: new WeightReader(new StreamedWeights(ckpt), parseQuantization(await readModelConfig(dir))), close: () => ckpt.close() };
}

/** The same model with every tensor as the engine dequantises / widens it, saved as F32, no quantization_config. */
async function f32Twin(fx: Fixture): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-quant-twin-'));
  const config = await readModelConfig(fx.dir);
  delete config.quantization_config;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const ckpt = await openCheckpoint(fx.dir);
  const { r, close } = await openReader(fx.dir);
  const tensors: Record<string, TensorSpec> = {};
  try {
    for (const stored of ckpt.names()) {
      if (stored.endsWith('_scales') || stored.endsWith('_scale_inv')) {
        continue;
      }
      const name = stored.replace(/_blocks$/, '');
      const shape = golden(fx).dequantised[name]?.shape ?? ckpt.info(stored).shape;
      tensors[name] = { dtype: 'F32', shape, data: await r.read(name, shape) };
    }
  } finally {
    await close();
    await ckpt.close();
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

for (const name of ['gpt_oss_mxfp4', 'deepseek_v3_fp8', 'qwen3_moe_fp8']) {
  const fx = loadQuantised(name);

  describe(`${name}: dequantised as transformers does`, () => {
    test('every quantised tensor equals numpy\'s dequantisation bit for bit', async () => {
      const { r, close } = await openReader(fx.dir);
      try {
        const want = golden(fx).dequantised;
        assert.ok(Object.keys(want).length > 0);
        for (const [tensor, g] of Object.entries(want)) {
          const data = await r.read(tensor, g.shape);
          assert.deepEqual(Array.from(data.subarray(0, g.first.length)), g.first, `${tensor}: first values`);
          assert.equal(sha256(data), g.sha256_f32le, `${tensor}: float32 bytes differ from numpy's`);
        }
        // Every stored quantised tensor is covered by the golden data.
        const quantised = new Set(r.names().filter((n) => QUANT_SUFFIX.test(n)).map((n) => n.replace(QUANT_SUFFIX, '')));
        assert.deepEqual([...quantised].sort(), Object.keys(want).sort());
      } finally {
        await close();
      }
    });
  });

  describe(`${name}: the quantised checkpoint traces exactly as its F32 twin`, () => {
    let twin: Fixture;
    before(async () => {
      twin = { ...fx, dir: await f32Twin(fx) };
    });
    after(() => rmSync(twin.dir, { recursive: true, force: true }));

    for (const backend of BACKENDS) {
      test(`router logits, experts, weights and logits are bitwise equal (${backend})`, () => {
        const q: CliTrace = runCliTrace(fx, backend);
        const f: CliTrace = runCliTrace(twin, backend);
        assert.equal(q.model.modelType, f.model.modelType);
        assert.ok(q.layers.some((l) => l.kind === 'moe'));
        assert.deepEqual(q.layers, f.layers);
        assert.deepEqual(q.logits, f.logits);
        assert.deepEqual(q.surprisal, f.surprisal);
      });
    }
  });
}

describe('E4M3 decoding', () => {
  test('all 256 codes decode to numpy\'s float32 bits (subnormals, ±0, ±448; NaN at 0x7f and 0xff)', () => {
    const bits = golden(loadQuantised('deepseek_v3_fp8')).e4m3_f32_bits!;
    assert.equal(bits.length, 256);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let code = 0; code < 256; code++) {
      f[0] = fp8e4m3ToFloat(code);
      const want = parseInt(bits[code], 16);
      const wantNaN = (want & 0x7f800000) === 0x7f800000 && (want & 0x7fffff) !== 0;
      if (wantNaN) {
        assert.ok(Number.isNaN(f[0]), `code 0x${code.toString(16)} must be NaN`);
        assert.ok(code === 0x7f || code === 0xff);
      } else {
        assert.equal(u[0], want, `code 0x${code.toString(16)}: ${f[0]} vs numpy bits ${bits[code]}`);
      }
    }
  });
});
