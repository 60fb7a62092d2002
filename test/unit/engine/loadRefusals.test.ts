/**
 * @file Inputs that used to load and then route on NaN, run a truncated model, or abort the wasm
 * heap after 20 s: each is refused with one line that says what to change, before (or instead of)
 * producing numbers.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { planModelMemory } from '../../../src/engine/memoryPlan';
import { familyFor } from '../../../src/engine/registry';
import { loadModel } from '../../../src/engine/model';
import { makeBabyModel } from './babyModel';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures');

/** config.json as the edits below see it. */
type Config = Record<string, unknown> & { rope_scaling: Record<string, unknown> };

/** A copy of a golden fixture with `edit` applied to its config.json. */
function editedFixture(family: string, edit: (cfg: Config) => void): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `moe-lens-refuse-${family}-`));
  const cfg = JSON.parse(readFileSync(path.join(fixtures, family, 'config.json'), 'utf8')) as Config;
  edit(cfg);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  copyFileSync(path.join(fixtures, family, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  return dir;
}

before(async () => {
  await initBackend('cpu');
});

describe('configs that made routing NaN are refused at load, naming config.json and the key', () => {
  const cases: [string, string, (cfg: Config) => void, RegExp][] = [
    ['rms_norm_eps -1', 'mixtral', (c) => (c.rms_norm_eps = -1), /^config\.json \(mixtral\): 'rms_norm_eps' must be a positive number, got -1$/],
    ['rope_theta 0', 'mixtral', (c) => (c.rope_theta = 0), /^config\.json \(mixtral\): 'rope_theta' must be a positive number, got 0$/],
    ['YaRN factor 0', 'gpt_oss', (c) => (c.rope_scaling.factor = 0), /^config\.json \(gpt_oss\): rope_scaling\.factor must be a positive number for rope type 'yarn', got 0$/],
    ['YaRN factor -1', 'gpt_oss', (c) => (c.rope_scaling.factor = -1), /^config\.json \(gpt_oss\): rope_scaling\.factor must be a positive number for rope type 'yarn', got -1$/],
    ['DeepSeek mscale -5', 'deepseek_v3', (c) => (c.rope_scaling.mscale = -5), /^config\.json \(deepseek_v3\): rope_scaling\.mscale must be 0 or more for rope type 'yarn', got -5$/],
    ['DeepSeek mscale_all_dim -5', 'deepseek_v3', (c) => (c.rope_scaling.mscale_all_dim = -5), /^config\.json \(deepseek_v3\): rope_scaling\.mscale_all_dim must be 0 or more/],
    ['DeepSeek YaRN factor 0', 'deepseek_v3', (c) => (c.rope_scaling.factor = 0), /^config\.json \(deepseek_v3\): rope_scaling\.factor must be a positive number/],
    [
      'num_hidden_layers below the checkpoint',
      'mixtral',
      (c) => (c.num_hidden_layers = 1),
      /^config\.json: 'num_hidden_layers' is 1, but the checkpoint holds 3 layers \(model\.layers\.0…2\); only the first 1 would run: set it to 3/,
    ],
  ];
  for (const [label, family, edit, says] of cases) {
    test(`${label} (${family})`, async () => {
      const dir = editedFixture(family, edit);
      const tensors = tf.memory().numTensors;
      await assert.rejects(loadModel(dir, { backend: 'cpu' }), (e: Error) => {
        assert.match(e.message, says);
        return true;
      });
      assert.equal(tf.memory().numTensors, tensors, 'refused before any weight became a tensor');
    });
  }

  test('DeepSeek multi-token-prediction layers past num_hidden_layers are expected, not refused', async () => {
    const dir = editedFixture('deepseek_v3', (c) => {
      c.num_hidden_layers = 2;
      c.num_nextn_predict_layers = 1; // the fixture's third layer now plays the MTP layer
    });
    const m = await loadModel(dir, { backend: 'cpu' });
    assert.equal(m.info.numLayers, 2);
    m.dispose();
  });
});

describe('a non-finite router output is an error naming the layer', () => {
  test('router weights that overflow float32 in layer 1', async () => {
    // Finite weights (so the load's NaN/Inf check passes) whose logits overflow to ±Infinity.
    const dir = makeBabyModel('mixtral', {}, 7, (name, data) => {
      if (name === 'model.layers.1.block_sparse_moe.gate.weight') {
        data.fill(3e38);
      }
    });
    const m = await loadModel(dir, { backend: 'cpu' });
    const tensors = tf.memory().numTensors;
    await assert.rejects(m.run([1, 2, 3, 4]), /^Error: layer 1: the router logit of expert 0 is -?Infinity at token 0; the hidden states overflowed or are NaN/);
    assert.equal(tf.memory().numTensors, tensors, 'the failed run left no tensor behind');
    m.dispose();
  });
});

describe('a model one layer of which is too big for the wasm heap is refused from its headers', () => {
  /**
   * A Mixtral whose layer-0 q_proj alone is 1.34e9 BF16 values (5.4 GB as float32): the data area is
   * a sparse file, so the test writes a few bytes and reads only the header.
   */
  function bigCheckpoint(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-big-'));
    const [V, D, Q] = [64, 10240, 131072];
    const cfg = { model_type: 'mixtral', vocab_size: V, hidden_size: D, num_hidden_layers: 1, num_attention_heads: 80, intermediate_size: 64, num_local_experts: 2, num_experts_per_tok: 1 };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    const qBytes = Q * D * 2;
    const header = {
      'model.embed_tokens.weight': { dtype: 'BF16', shape: [V, D], data_offsets: [0, V * D * 2] },
      'model.layers.0.self_attn.q_proj.weight': { dtype: 'BF16', shape: [Q, D], data_offsets: [V * D * 2, V * D * 2 + qBytes] },
    };
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(dir, 'model.safetensors');
    writeFileSync(file, Buffer.concat([len, Buffer.from(json)]));
    truncateSync(file, 8 + json.length + V * D * 2 + qBytes);
    return dir;
  }

  test('the plan counts the layer widened to float32, with its transient transposed copy; only the wasm backend has a ceiling', async () => {
    const ckpt = await openCheckpoint(bigCheckpoint());
    try {
      const q = 131072 * 10240 * 4;
      const cfg = familyFor('mixtral').parseConfig(JSON.parse(readFileSync(path.join(ckpt.dir, 'config.json'), 'utf8')) as Record<string, unknown>);
      const plan = planModelMemory(ckpt, cfg, { budgetBytes: 2 ** 50, heapBytes: null, numLayers: 1 });
      assert.equal(plan.layerBytes, 2 * q, 'the matrix, and its transposed copy for a moment');
      assert.equal(plan.mode, 'resident');
      const onWasm = planModelMemory(ckpt, cfg, { budgetBytes: 2 ** 50, heapBytes: 4294901760, numLayers: 1 });
      assert.equal(onWasm.mode, 'refused');
      assert.match(onWasm.refusal ?? '', /more than the 4096 MB heap of the wasm backend/);
    } finally {
      await ckpt.close();
    }
  });

  test('loadModel on wasm says the size, the limit and what to do, without reading the weights', async () => {
    await initBackend('wasm');
    try {
      await assert.rejects(
        loadModel(bigCheckpoint(), { backend: 'wasm', maxMemoryBytes: 2 ** 50 }),
        /^Error: one layer of this model needs about \d+ MB of tensors \(its weights widened to float32 and the activations of 1024 tokens\), more than the 4096 MB heap of the wasm backend: run it on the cpu backend \(--backend cpu, or the moeLens\.backend setting\)/,
      );
    } finally {
      await initBackend('cpu');
    }
  });
});

describe('the wasm heap holds each weight twice while it is used (XNNPACK packs a copy)', () => {
  /** A Mixtral of 4 layers of 8 experts [4096 × 2048] in BF16, headers only (a sparse file): 870 MB a layer widened. */
  function fatExperts(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-fat-'));
    const [V, D, I, E, L] = [64, 2048, 4096, 8, 4];
    const cfg = { model_type: 'mixtral', vocab_size: V, hidden_size: D, num_hidden_layers: L, num_attention_heads: 16, num_key_value_heads: 16, intermediate_size: I, num_local_experts: E, num_experts_per_tok: 2 };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    const shapes: [string, number[]][] = [['model.embed_tokens.weight', [V, D]], ['model.norm.weight', [D]], ['lm_head.weight', [V, D]]];
    for (let i = 0; i < L; i++) {
      const p = `model.layers.${i}`;
      shapes.push([`${p}.input_layernorm.weight`, [D]], [`${p}.post_attention_layernorm.weight`, [D]], [`${p}.block_sparse_moe.gate.weight`, [E, D]]);
      for (const x of ['q', 'k', 'v', 'o']) {
        shapes.push([`${p}.self_attn.${x}_proj.weight`, [D, D]]);
      }
      for (let e = 0; e < E; e++) {
        shapes.push([`${p}.block_sparse_moe.experts.${e}.w1.weight`, [I, D]], [`${p}.block_sparse_moe.experts.${e}.w3.weight`, [I, D]], [`${p}.block_sparse_moe.experts.${e}.w2.weight`, [D, I]]);
      }
    }
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const [name, shape] of shapes) {
      const bytes = shape.reduce((a, b) => a * b, 1) * 2;
      header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(dir, 'model.safetensors');
    writeFileSync(file, Buffer.concat([len, Buffer.from(json)]));
    truncateSync(file, 8 + json.length + offset);
    return dir;
  }

  test('resident on wasm keeps only as many layers widened as fit the heap twice over', async () => {
    const ckpt = await openCheckpoint(fatExperts());
    try {
      const cfg = familyFor('mixtral').parseConfig(JSON.parse(readFileSync(path.join(ckpt.dir, 'config.json'), 'utf8')) as Record<string, unknown>);
      const heap = 4294901760;
      const onWasm = planModelMemory(ckpt, cfg, { budgetBytes: 2 ** 40, heapBytes: heap, weightCopies: 2, numLayers: 4 });
      const onCpu = planModelMemory(ckpt, cfg, { budgetBytes: 2 ** 40, heapBytes: null, weightCopies: 1, numLayers: 4 });
      assert.equal(onCpu.cachedLayers, 4);
      assert.equal(onWasm.mode, 'resident');
      assert.equal(onWasm.cachedLayers, 1, 'a layer is 870 MB widened, 1.7 GB with its packed copies: two would overflow the 4 GB heap');
      assert.ok(onWasm.cacheBytes + onWasm.layerBytes + onWasm.activationBytes <= heap);
    } finally {
      await ckpt.close();
    }
  });
});
