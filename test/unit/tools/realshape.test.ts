/**
 * @file tools/realshape: the four real checkpoints' plans match what the Hub lists (file names,
 * file sizes, parameter counts), their configs parse with the engine's own families and agree with
 * the tensors, and a small written checkpoint opens, is reproducible from its seed and holds plausible values.
 * (Writing the real sizes is a bench step, see bench/README.md; here nothing large is written.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { Checkpoint, TensorInfo } from '../../../src/engine/checkpoint/checkpoint';
import { openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { parseQuantization } from '../../../src/engine/checkpoint/quantConfig';
import { assertLayerCount } from '../../../src/engine/loadPlan';
import { familyFor } from '../../../src/engine/registry';
import { firstLayers, MODELS, type ModelSpec } from '../../../tools/realshape/models';
import { planShards, tensorBytes, writeCheckpoint } from '../../../tools/realshape/write';

const GB = 1e9;

function params(spec: ModelSpec): number {
  return spec.tensors.reduce((s, t) => s + (t.name.endsWith('_scales') ? 0 : t.shape.reduce((a, b) => a * b, 1) * (t.name.endsWith('_blocks') ? 2 : 1)), 0);
}

/** A header-only checkpoint over a spec: enough for the engine's checks that read no weights. */
function headerOnly(spec: ModelSpec): Checkpoint {
  const infos = new Map<string, TensorInfo>(spec.tensors.map((t) => [t.name, { name: t.name, dtype: t.dtype, shape: t.shape, file: 'x', start: 0, end: tensorBytes(t) }]));
  return {
    dir: 'x',
    metadata: new Map(),
    names: () => [...infos.keys()],
    has: (n) => infos.has(n),
    info: (n) => infos.get(n) ?? assert.fail(`no tensor ${n}`),
    readFloat32: () => assert.fail('no weights in a header-only checkpoint'),
    readRaw: () => assert.fail('no weights in a header-only checkpoint'),
    close: () => Promise.resolve(),
  };
}

describe('realshape plans', () => {
  const gb = (spec: ModelSpec): string[] => planShards(spec).map((s) => (s.bytes / GB).toFixed(2));

  test('granite-3.1-1b-a400m: 1.33 B parameters in one 2.67 GB model.safetensors, tied embeddings', () => {
    const spec = MODELS['granite-3.1-1b-a400m']();
    assert.equal((params(spec) / GB).toFixed(2), '1.33');
    assert.deepEqual(planShards(spec).map((s) => s.file), ['model.safetensors']);
    assert.deepEqual(gb(spec), ['2.67']);
    assert.ok(!spec.tensors.some((t) => t.name === 'lm_head.weight'));
  });

  test('Qwen1.5-MoE-A2.7B: 14.3 B parameters in the 8 shards the Hub lists (7 of ~4 GB, then 668 MB)', () => {
    const spec = MODELS['Qwen1.5-MoE-A2.7B']();
    assert.equal((params(spec) / GB).toFixed(1), '14.3');
    const shards = planShards(spec);
    assert.deepEqual(shards.map((s) => s.file), Array.from({ length: 8 }, (_, i) => `model-0000${i + 1}-of-00008.safetensors`));
    assert.deepEqual(gb(spec), ['4.00', '4.00', '3.99', '4.00', '3.99', '4.00', '3.99', '0.67']);
    assert.equal(Math.round(shards[7].bytes / 1e6), 668);
  });

  test('OLMoE-1B-7B: 6.92 B parameters, 13.8 GB in 3 shards of at most 5 GB', () => {
    const spec = MODELS['OLMoE-1B-7B']();
    assert.equal((params(spec) / GB).toFixed(2), '6.92');
    assert.equal(planShards(spec).length, 3);
    assert.ok(planShards(spec).every((s) => s.bytes <= 5e9));
  });

  test('gpt-oss-20b: 20.9 B parameters, experts as MXFP4 blocks + scales, 13.8 GB in model-00000…00002-of-00002', () => {
    const spec = MODELS['gpt-oss-20b']();
    assert.equal((params(spec) / GB).toFixed(1), '20.9');
    assert.deepEqual(planShards(spec).map((s) => s.file), [0, 1, 2].map((i) => `model-0000${i}-of-00002.safetensors`));
    assert.equal((planShards(spec).reduce((s, x) => s + x.bytes, 0) / GB).toFixed(1), '13.8');
    const blocks = spec.tensors.find((t) => t.name === 'model.layers.0.mlp.experts.gate_up_proj_blocks');
    assert.deepEqual(blocks && [blocks.dtype, blocks.shape], ['U8', [32, 5760, 90, 16]]);
    assert.deepEqual(parseQuantization(spec.config), { method: 'mxfp4' });
  });

  for (const [name, make] of Object.entries(MODELS)) {
    test(`${name}: config.json parses with the engine's family and names the layers the tensors hold`, () => {
      const spec = make();
      const cfg = familyFor(spec.config.model_type).parseConfig(spec.config);
      assertLayerCount(headerOnly(spec), cfg.numLayers);
      const embed = spec.tensors.find((t) => t.name === 'model.embed_tokens.weight');
      assert.deepEqual(embed?.shape, [cfg.vocabSize, cfg.hiddenSize]);
      assert.equal(spec.tensors.some((t) => t.name === 'lm_head.weight'), !cfg.tieWordEmbeddings);
      const routers = spec.tensors.filter((t) => /\.(mlp\.gate|mlp\.router|block_sparse_moe\.router\.layer)\.weight$/.test(t.name));
      assert.equal(routers.length, cfg.numLayers);
      assert.ok(routers.every((t) => t.shape[0] === cfg.numExperts && t.shape[1] === cfg.hiddenSize));
      assert.equal(new Set(spec.tensors.map((t) => t.name)).size, spec.tensors.length, 'tensor names are unique');
    });
  }
});

describe('realshape --layers', () => {
  test('keeps the first n layers at their real shapes, with num_hidden_layers and layer_types cut to match', () => {
    const full = MODELS['gpt-oss-20b']();
    const two = firstLayers(full, 2);
    const cfg = familyFor(two.config.model_type).parseConfig(two.config);
    assert.equal(cfg.numLayers, 2);
    assertLayerCount(headerOnly(two), 2);
    assert.deepEqual(two.config.layer_types, ['sliding_attention', 'full_attention']);
    const perLayer = full.tensors.filter((t) => t.name.startsWith('model.layers.0.')).length;
    assert.equal(two.tensors.length, full.tensors.length - 22 * perLayer);
    assert.deepEqual(two.tensors.find((t) => t.name === 'lm_head.weight')?.shape, [201088, 2880]);
    assert.throws(() => firstLayers(full, 25), /--layers must be 1…24/);
  });
});

describe('realshape writer', () => {
  test('a written checkpoint opens, is byte-identical for the same seed, and its values look as intended', async () => {
    const spec: ModelSpec = {
      name: 'tiny',
      repo: 'none',
      config: { model_type: 'olmoe' },
      tensors: [
        { name: 'a', dtype: 'BF16', shape: [3, 5], fill: 'normal' },
        { name: 'b', dtype: 'BF16', shape: [4], fill: 'ones' },
        { name: 'c_blocks', dtype: 'U8', shape: [1, 2, 1, 16], fill: 'mxfp4-blocks' },
        { name: 'c_scales', dtype: 'U8', shape: [1, 2, 1], fill: 'mxfp4-scales' },
      ],
      sharding: { kind: 'hf', maxShardBytes: 40 },
      unconfirmed: [],
    };
    const dirs = [1, 2].map(() => mkdtempSync(path.join(os.tmpdir(), 'moe-lens-realshape-')));
    try {
      dirs.forEach((d) => writeCheckpoint(spec, d, { seed: 7 }));
      const files = planShards(spec).map((s) => s.file);
      assert.ok(files.length > 1, 'the tiny limit shards it');
      for (const f of files) {
        assert.deepEqual(readFileSync(path.join(dirs[0], f)), readFileSync(path.join(dirs[1], f)), `${f} is reproducible`);
      }
      const ckpt = await openCheckpoint(dirs[0]);
      try {
        assert.deepEqual(ckpt.names().sort(), ['a', 'b', 'c_blocks', 'c_scales']);
        const a = await ckpt.readFloat32('a');
        assert.ok(a.some((v) => v !== 0) && a.every((v) => Math.abs(v) < 0.2), 'weights look like N(0, 0.02)');
        assert.ok((await ckpt.readFloat32('b')).every((v) => Math.abs(v - 1) < 0.05), 'norm weights near 1');
        assert.ok((await ckpt.readFloat32('c_scales')).every((v) => v >= 119 && v <= 121), 'MXFP4 exponents near 2^-7');
      } finally {
        await ckpt.close();
      }
    } finally {
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    }
  });
});
