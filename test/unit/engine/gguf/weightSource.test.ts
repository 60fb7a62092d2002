/**
 * @file GGUF tensors through the engine's weight sources exactly as safetensors: held (resident) and
 * streamed give the same float32 values as dequantising the whole tensor; one expert of a stacked
 * [E, rows, cols] Q4_K tensor is read with positioned reads of that expert's bytes only; a view
 * renames tensors and splits a stacked tensor into per-expert ones without copying; and the memory
 * plan sizes a quantised file from its headers (stored bytes as quantised, widened as float32), so a
 * budget below the stored size streams.
 */
import assert from 'node:assert/strict';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dequantize } from '../../../../src/engine/checkpoint/gguf/dequant/index';
import { entryInfo, openGgufCheckpoint } from '../../../../src/engine/checkpoint/gguf/open';
import type { FamilyConfig } from '../../../../src/engine/family';
import { planModelMemory } from '../../../../src/engine/memoryPlan';
import { WeightReader } from '../../../../src/engine/weights';
import { HeldWeights, StreamedWeights, type WeightSource } from '../../../../src/engine/weightSource';
import { randomBlocks, xorshift32 } from '../../../../tools/gguf/quantize';
import { writeGguf, type GgufTensorSpec } from '../../../../tools/gguf/writer';

const root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-gguf-ws-'));
const file = path.join(root, 'model.gguf');
const E = 4;
const ROWS = 8;
const COLS = 256;
const next = xorshift32(99);
const experts = randomBlocks('Q4_K', (E * ROWS * COLS) / 256, next);
const q6 = randomBlocks('Q6_K', 2, next);
const router = Float32Array.from({ length: E * COLS }, (_, i) => Math.cos(i) * 0.05);
const TENSORS: GgufTensorSpec[] = [
  { name: 'model.layers.0.mlp.router.weight', type: 'F32', shape: [E, COLS], values: router },
  { name: 'model.layers.0.mlp.experts.gate_proj', type: 'Q4_K', shape: [E, ROWS, COLS], raw: experts },
  { name: 'model.layers.0.self_attn.q_proj.weight', type: 'Q6_K', shape: [2, COLS], raw: q6 },
];
const expertValues = dequantize('Q4_K', experts);
const expertSize = ROWS * COLS;

before(() => {
  writeGguf(file, { 'general.architecture': 'test' }, TENSORS);
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Bytes read from `f` while `fn` runs (every positioned read of every FileHandle). */
async function bytesRead(fn: () => Promise<unknown>): Promise<number> {
  const probe = await fsp.open(file, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<{ bytesRead: number }> };
  await probe.close();
  const original = proto.read;
  let total = 0;
  proto.read = async function (this: unknown, ...args: unknown[]) {
    const r = await original.apply(this, args);
    total += r.bytesRead;
    return r;
  };
  try {
    await fn();
  } finally {
    proto.read = original;
  }
  return total;
}

async function checkSource(source: WeightSource): Promise<void> {
  const name = 'model.layers.0.mlp.experts.gate_proj';
  assert.deepEqual(await source.read(name), expertValues);
  const r = new WeightReader(source);
  for (let e = 0; e < E; e++) {
    assert.deepEqual(await r.readEntry(name, [E, ROWS, COLS], e), expertValues.subarray(e * expertSize, (e + 1) * expertSize), `expert ${e}`);
  }
  assert.deepEqual(await r.read('model.layers.0.self_attn.q_proj.weight', [2, COLS]), dequantize('Q6_K', q6));
  assert.deepEqual(await r.read('model.layers.0.mlp.router.weight', [E, COLS]), router);
  assert.throws(() => r.checkShape(name, [E, COLS, ROWS]), /has shape \[4,8,256\]/);
}

describe('GGUF tensors through the weight sources', () => {
  test('held (resident): the same values, whole and per expert', async () => {
    const ck = await openGgufCheckpoint(file, { checkFinite: true });
    const held = await HeldWeights.load(ck, ck.names());
    try {
      assert.equal(held.heldBytes, experts.length + q6.length + router.length * 4);
      await checkSource(held);
    } finally {
      await held.close();
    }
  });

  test('held: a block whose f16 scale is infinite, or an MXFP4 block that overflows, is refused at load naming the tensor and element', async () => {
    const bad = path.join(root, 'bad.gguf');
    const q4 = randomBlocks('Q4_K', 2, next);
    q4.set([0x00, 0x7c], 144 + 2); // block 1's dmin = +inf
    const mx = randomBlocks('MXFP4', 2, next);
    mx[17] = 255; // block 1: 2^127 × codes up to 12 overflows float32
    mx[18] = 0x77; // codes 7 (12) in both nibbles
    for (const [type, raw, block] of [['Q4_K', q4, 256], ['MXFP4', mx, 32]] as const) {
      writeGguf(bad, {}, [{ name: 'blk.0.w', type, shape: [1, 2 * block], raw }]);
      const ck = await openGgufCheckpoint(bad, { checkFinite: true });
      await assert.rejects(HeldWeights.load(ck, ck.names()), (e: Error) => {
        const m = /tensor "blk\.0\.w": holds \d+ non-finite values? \(first: .* at \[0, (\d+)\]\)/.exec(e.message);
        return m !== null && Number(m[1]) >= block && Number(m[1]) < 2 * block; // in block 1
      });
      await ck.close();
    }
  });

  test('streamed: the same values; one expert reads only its own blocks', async () => {
    const ck = await openGgufCheckpoint(file, { checkFinite: true });
    const streamed = new StreamedWeights(ck);
    try {
      await checkSource(streamed);
      const r = new WeightReader(streamed);
      const perExpert = experts.length / E;
      assert.equal(await bytesRead(() => r.readEntry('model.layers.0.mlp.experts.gate_proj', [E, ROWS, COLS], 2)), perExpert);
      // Read ahead, then used: still that expert's values.
      streamed.prefetch([{ name: 'model.layers.0.mlp.experts.gate_proj', range: WeightReader.entryRange([E, ROWS, COLS], 3) }]);
      assert.deepEqual(await r.readEntry('model.layers.0.mlp.experts.gate_proj', [E, ROWS, COLS], 3), expertValues.subarray(3 * expertSize));
    } finally {
      await streamed.close();
    }
  });

  test('a view renames tensors and splits the stacked experts into per-expert tensors, read in place', async () => {
    const ck = await openGgufCheckpoint(file);
    const stacked = ck.info('model.layers.0.mlp.experts.gate_proj');
    const view = ck.view(new Map(Array.from({ length: E }, (_, e) => {
      const name = `model.layers.0.mlp.experts.${e}.gate_proj.weight`;
      return [name, entryInfo(stacked, e, name)] as const;
    })));
    try {
      assert.deepEqual(view.info('model.layers.0.mlp.experts.1.gate_proj.weight').shape, [ROWS, COLS]);
      for (let e = 0; e < E; e++) {
        assert.deepEqual(await view.readFloat32(`model.layers.0.mlp.experts.${e}.gate_proj.weight`), expertValues.subarray(e * expertSize, (e + 1) * expertSize));
      }
      assert.throws(() => ck.view(new Map([['x', { ...stacked, end: stacked.end + 144 }]])), /not inside this checkpoint's tensor data/);
    } finally {
      await view.close();
    }
  });

  test('the memory plan sizes the quantised file from its headers; a budget below its stored size streams', async () => {
    const ck = await openGgufCheckpoint(file);
    try {
      const cfg: FamilyConfig = { vocabSize: 16, hiddenSize: COLS, numLayers: 1, numExperts: E, topK: 2, rmsNormEps: 1e-6, maxPositions: 64, tieWordEmbeddings: true, rope: { theta: 1e4 } as FamilyConfig['rope'] };
      const plan = planModelMemory(ck, cfg, { budgetBytes: 2 ** 40, heapBytes: null, numLayers: 1, tokens: 8 });
      assert.equal(plan.storedBytes, experts.length + q6.length + router.length * 4);
      assert.deepEqual(plan.dtypes, ['F32', 'Q4_K', 'Q6_K']);
      assert.equal(plan.expertBytes, expertSize * 4); // one expert widened to float32
      assert.equal(plan.totalParams, E * expertSize + 2 * COLS + E * COLS);
      assert.equal(plan.mode, 'resident');
      const tight = planModelMemory(ck, cfg, { budgetBytes: plan.minimumBytes, heapBytes: null, numLayers: 1, tokens: 8 });
      assert.equal(tight.mode, 'streamed');
    } finally {
      await ck.close();
    }
  });
});
