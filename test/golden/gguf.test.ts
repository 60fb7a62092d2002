/**
 * GGUF files as llama.cpp's converter writes our families (tools/gguf/convertHf.ts) give the trace of
 * the same weights as safetensors: every golden family as F32 GGUF (router logits within 1e-4,
 * identical experts; in fact bit for bit), resident and streamed at the plan's minimum budget; and
 * each quantisation type gives exactly the trace of its own dequantised values written as F32.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { dequantize } from '../../src/engine/checkpoint/gguf/dequant/index';
import { blockGeometry, type BlockType } from '../../src/engine/checkpoint/gguf/types';
import { loadModel, type Model } from '../../src/engine/model';
import type { LayerRouting } from '../../src/shared/trace';
import { convertHfToGguf } from '../../tools/gguf/convertHf';
import { randomBlocks, xorshift32 } from '../../tools/gguf/quantize';
import type { GgufTensorSpec } from '../../tools/gguf/writer';
import { ROOT, TOL_ROUTER } from './fixtureGolden';

const FAMILIES = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'deepseek_v3', 'gpt_oss'];
const QUANT_TYPES: BlockType[] = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'MXFP4'];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-gguf-golden-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const fixtureIds = (dir: string): number[] => (JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0];

async function trace(model: Model, ids: number[]): Promise<{ layers: LayerRouting[]; logits: number[][] }> {
  try {
    const r = await model.run(ids, { withLogits: true });
    return { layers: r.layers, logits: r.logits as number[][] };
  } finally {
    model.dispose();
  }
}

function assertSameRouting(got: LayerRouting[], want: LayerRouting[], label: string): void {
  assert.equal(got.length, want.length, `${label}: layer count`);
  want.forEach((w, i) => {
    const g = got[i];
    assert.equal(g.layer, w.layer);
    assert.deepEqual(g.experts, w.experts, `${label}: experts of layer ${w.layer}`);
    w.routerLogits?.forEach((row, t) =>
      row.forEach((v, e) => assert.ok(Math.abs(v - (g.routerLogits as number[][])[t][e]) <= TOL_ROUTER, `${label}: router logit [${t}][${e}] of layer ${w.layer}`)),
    );
  });
}

describe('golden families as F32 GGUF', () => {
  for (const family of FAMILIES) {
    it(`${family}: the safetensors trace, resident and streamed`, async () => {
      const dir = path.join(ROOT, 'test', 'fixtures', family);
      const file = path.join(tmp, `${family}.gguf`);
      await convertHfToGguf(dir, file);
      const ids = fixtureIds(dir);
      const want = await trace(await loadModel(dir, { backend: 'cpu' }), ids);
      const resident = await loadModel(file, { backend: 'cpu' });
      const minimum = resident.plan.minimumBytes;
      assert.equal(resident.plan.mode, 'resident');
      const got = await trace(resident, ids);
      assertSameRouting(got.layers, want.layers, family);
      assert.deepEqual(got, want, `${family}: bit for bit, logits included`);
      const streamed = await loadModel(file, { backend: 'cpu', maxMemoryBytes: minimum });
      assert.equal(streamed.plan.mode, 'streamed');
      assert.deepEqual(await trace(streamed, ids), want, `${family}: streamed from the GGUF file`);
    });
  }
});

describe("deepseek_v3 with kv_b_proj split as current llama.cpp writes it (attn_k_b [H, r, nope], attn_v_b [H, v, r])", () => {
  for (const mla of ['split', 'both'] as const) {
    it(`${mla}: the safetensors trace, resident and streamed`, async () => {
      const dir = path.join(ROOT, 'test', 'fixtures', 'deepseek_v3');
      const file = path.join(tmp, `deepseek_v3-${mla}.gguf`);
      const written: GgufTensorSpec[] = [];
      await convertHfToGguf(dir, file, { mla, transform: (t) => (written.push(t), t) });
      const kb = written.find((t) => t.name === 'blk.0.attn_k_b.weight');
      assert.deepEqual(kb?.shape, [4, 32, 16], 'attn_k_b is [H, kv_lora_rank, qk_nope_head_dim]');
      assert.deepEqual(written.find((t) => t.name === 'blk.0.attn_v_b.weight')?.shape, [4, 16, 32], 'attn_v_b is [H, v_head_dim, kv_lora_rank]');
      assert.equal(written.some((t) => t.name.endsWith('attn_kv_b.weight')), mla === 'both', 'attn_kv_b written only with both');
      const ids = fixtureIds(dir);
      const want = await trace(await loadModel(dir, { backend: 'cpu' }), ids);
      const resident = await loadModel(file, { backend: 'cpu' });
      const minimum = resident.plan.minimumBytes;
      const got = await trace(resident, ids);
      assertSameRouting(got.layers, want.layers, `deepseek_v3 ${mla}`);
      assert.deepEqual(got, want, `deepseek_v3 ${mla}: bit for bit, logits included`);
      const streamed = await loadModel(file, { backend: 'cpu', maxMemoryBytes: minimum });
      assert.equal(streamed.plan.mode, 'streamed');
      assert.deepEqual(await trace(streamed, ids), want, `deepseek_v3 ${mla}: streamed from the GGUF file`);
    });
  }
});

describe('each quantisation type gives the trace of its values as F32', () => {
  // The embedded model: its widths (256) hold whole K-quant blocks. Every weight matrix whose rows are
  // whole blocks of the type gets random blocks of it (seeded); the twin file holds those blocks' values as F32.
  const demo = path.join(ROOT, 'models', 'demo');
  const ids = Array.from({ length: 12 }, (_, i) => (i * 37 + 11) % 512);
  for (const type of QUANT_TYPES) {
    it(`${type}`, async () => {
      const { blockSize } = blockGeometry(type);
      let quantised = 0;
      const blocks = new Map<string, Uint8Array>();
      const asType = (t: GgufTensorSpec): GgufTensorSpec => {
        const cols = t.shape[t.shape.length - 1];
        if (t.shape.length < 2 || cols % blockSize !== 0 || t.name === 'token_embd.weight') {
          return t;
        }
        const count = t.shape.reduce((a, b) => a * b, 1);
        const raw = randomBlocks(type, count / blockSize, xorshift32(blocks.size + 1), 0.02);
        blocks.set(t.name, raw);
        quantised++;
        return { name: t.name, shape: t.shape, type, raw };
      };
      const asF32 = (t: GgufTensorSpec): GgufTensorSpec => {
        const raw = blocks.get(t.name);
        return raw ? { name: t.name, shape: t.shape, type: 'F32', values: dequantize(type, raw) } : t;
      };
      const qFile = path.join(tmp, `demo-${type}.gguf`);
      const fFile = path.join(tmp, `demo-${type}-as-f32.gguf`);
      await convertHfToGguf(demo, qFile, { transform: asType });
      await convertHfToGguf(demo, fFile, { transform: asF32 });
      assert.ok(quantised > 0, `no weight of the embedded model has rows of whole ${type} blocks`);
      const q = await loadModel(qFile, { backend: 'wasm' });
      assert.ok(q.plan.dtypes.includes(type), `plan lists ${type}: ${q.plan.dtypes.join(', ')}`);
      assert.deepEqual(await trace(q, ids), await trace(await loadModel(fFile, { backend: 'wasm' }), ids));
    });
  }
});
