/**
 * @file Fuzz of config.json through the engine's loadModel: missing, mistyped and absurd fields
 * (hidden_size 0, negative experts, top-k above the expert count, a vocabulary of 1e12, strings
 * where numbers go, sizes that disagree with the weights). Each must be one clear error naming
 * config.json (or the tensor that disagrees) and the field, within 1 s, and never a crash or OOM.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BENCH_OLMOE, writeOlmoeCheckpoint, type OlmoeShape } from '../../../bench/forwardCheckpoint';
import { loadModel } from '../../../src/engine/model';
import { FAMILIES, familyFor } from '../../../src/engine/registry';

const TINY: OlmoeShape = { ...BENCH_OLMOE, vocabSize: 50, hiddenSize: 16, intermediateSize: 8, numLayers: 2, numHeads: 2, numKvHeads: 2, numExperts: 4, topK: 2, maxPositions: 64, shards: 2, seed: 7 };

let root = '';
let base = '';
before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-cfgfuzz-'));
  base = path.join(root, 'base');
  writeOlmoeCheckpoint(base, TINY);
});
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * Overwrites element `index` of the bf16 tensor `name` in whichever shard of `dir` holds it with the
 * bf16 bit pattern `bits` (0x7fc0 NaN, 0x7f80 +Inf, 0xff80 −Inf); returns that shard's file name.
 */
function poisonBf16(dir: string, name: string, index: number, bits: number): string {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.safetensors'))) {
    const buf = readFileSync(path.join(dir, file));
    const headerLen = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const t = header[name];
    if (t) {
      assert.equal(t.dtype, 'BF16');
      buf.writeUInt16LE(bits, 8 + headerLen + t.data_offsets[0] + 2 * index);
      writeFileSync(path.join(dir, file), buf);
      return file;
    }
  }
  throw new Error(`no shard of ${dir} holds ${name}`);
}

type Edit = Record<string, unknown>;
const DELETE = Symbol('delete');

/** [label, edit of config.json, what the message must contain]. */
const cases: [string, Edit, RegExp][] = [
  ['hidden_size 0', { hidden_size: 0 }, /hidden_size/],
  ['hidden_size negative', { hidden_size: -16 }, /hidden_size/],
  ['hidden_size string', { hidden_size: '16' }, /hidden_size/],
  ['hidden_size fractional', { hidden_size: 16.5 }, /hidden_size/],
  ['hidden_size 1e12', { hidden_size: 1e12 }, /hidden_size/],
  ['hidden_size null', { hidden_size: null }, /hidden_size/],
  ['hidden_size missing', { hidden_size: DELETE }, /hidden_size/],
  ['hidden_size disagrees with the weights', { hidden_size: 32 }, /hidden_size|shape|\[/],
  ['num_experts negative', { num_experts: -8 }, /num_experts/],
  ['num_experts 0', { num_experts: 0 }, /num_experts/],
  ['num_experts string', { num_experts: 'four' }, /num_experts/],
  ['num_experts more than the checkpoint has', { num_experts: 5 }, /^config\.json \(olmoe\): 'num_experts' is 5, but the router 'model\.layers\.0\.mlp\.gate\.weight' has 4 experts \(shape \[4, 16\]\)/],
  ['num_experts fewer than the checkpoint has', { num_experts: 3, num_experts_per_tok: 1 }, /^config\.json \(olmoe\): 'num_experts' is 3, but the router 'model\.layers\.0\.mlp\.gate\.weight' has 4 experts/],
  ['top-k above the expert count', { num_experts_per_tok: 5 }, /num_experts_per_tok/],
  ['top-k 0', { num_experts_per_tok: 0 }, /num_experts_per_tok/],
  ['top-k fractional', { num_experts_per_tok: 1.5 }, /num_experts_per_tok/],
  ['vocab 1e12', { vocab_size: 1e12 }, /vocab_size/],
  ['vocab string', { vocab_size: 'big' }, /vocab_size/],
  ['vocab missing', { vocab_size: DELETE }, /vocab_size/],
  ['vocab disagrees with the weights', { vocab_size: 60 }, /vocab_size|embed_tokens|shape/],
  ['layers 1e9', { num_hidden_layers: 1e9 }, /num_hidden_layers/],
  ['layers negative', { num_hidden_layers: -1 }, /num_hidden_layers/],
  ['more layers than the checkpoint has', { num_hidden_layers: 3 }, /^config\.json: 'num_hidden_layers' is 3, but the checkpoint holds only 2 layers/],
  ['fewer layers than the checkpoint has', { num_hidden_layers: 1 }, /^config\.json: 'num_hidden_layers' is 1, but the checkpoint holds 2 layers/],
  ['heads 0', { num_attention_heads: 0 }, /num_attention_heads/],
  ['heads do not divide hidden_size', { num_attention_heads: 3 }, /^config\.json \(olmoe\): 'num_attention_heads' \(3\) does not divide 'hidden_size' \(16\)/],
  ['kv heads above heads', { num_key_value_heads: 4 }, /num_key_value_heads|k_proj|shape/],
  ['intermediate_size disagrees with the weights', { intermediate_size: 12 }, /intermediate_size|gate_proj|shape/],
  ['intermediate_size absurd', { intermediate_size: 1e15 }, /intermediate_size/],
  ['rms_norm_eps string', { rms_norm_eps: 'tiny' }, /rms_norm_eps/],
  ['rope_theta string', { rope_theta: 'ten thousand' }, /rope_theta/],
  ['rms_norm_eps negative', { rms_norm_eps: -1 }, /^config\.json \(olmoe\): 'rms_norm_eps' must be a positive number, got -1$/],
  ['rope_theta 0', { rope_theta: 0 }, /^config\.json \(olmoe\): 'rope_theta' must be a positive number, got 0$/],
  ['yarn factor 0', { rope_scaling: { rope_type: 'yarn', factor: 0 } }, /^config\.json \(olmoe\): rope_scaling\.factor must be a positive number for rope type 'yarn', got 0$/],
  ['yarn factor -1', { rope_scaling: { rope_type: 'yarn', factor: -1 } }, /rope_scaling\.factor must be a positive number/],
  ['linear factor 0', { rope_scaling: { rope_type: 'linear', factor: 0 } }, /rope_scaling\.factor must be a positive number/],
  ['yarn mscale -5', { rope_scaling: { rope_type: 'yarn', factor: 40, mscale: -5, mscale_all_dim: 1 } }, /rope_scaling\.mscale must be 0 or more for rope type 'yarn', got -5$/],
  ['max_position_embeddings 0', { max_position_embeddings: 0 }, /max_position_embeddings/],
  ['norm_topk_prob string', { norm_topk_prob: 'yes' }, /norm_topk_prob/],
  ['tie_word_embeddings string', { tie_word_embeddings: 'false' }, /tie_word_embeddings/],
  ['clip_qkv string', { clip_qkv: 'x' }, /clip_qkv/],
  ['model_type missing', { model_type: DELETE }, /config\.json has no 'model_type'; supported model types: deepseek_v3, gpt_oss, granitemoe, mixtral, olmoe, qwen2_moe, qwen3_moe$/],
  ['model_type unsupported', { model_type: 'llama' }, /config\.json: model_type 'llama' is not supported; supported model types: deepseek_v3, gpt_oss, granitemoe, mixtral, olmoe, qwen2_moe, qwen3_moe$/],
  ['model_type a huge number', { model_type: 1.5e29 }, /config\.json: model_type 1\.5e\+29 is not a string/],
  ['model_type a number', { model_type: 42 }, /config\.json: model_type 42 is not a string; supported model types: deepseek_v3, gpt_oss, granitemoe, mixtral, olmoe, qwen2_moe, qwen3_moe$/],
  ['rope_scaling not an object', { rope_scaling: 'yarn' }, /rope_scaling/],
];

describe('config fuzz through loadModel', () => {
  test('the untouched tiny OLMoE checkpoint loads and runs (so each case below fails for its edit alone)', async () => {
    const m = await loadModel(base, { backend: 'cpu' });
    const r = await m.run([1, 2, 3]);
    assert.equal(r.layers.length, TINY.numLayers);
    assert.equal(r.layers[0].experts?.[0].length, TINY.topK);
    m.dispose();
  });

  test(`config with missing or absurd fields (${cases.length} files): one clear error each, < 1 s`, async () => {
    const problems: string[] = [];
    let slowest = 0;
    for (const [i, [label, edit, says]] of cases.entries()) {
      const dir = path.join(root, `c${i}`);
      cpSync(base, dir, { recursive: true });
      const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      for (const [k, v] of Object.entries(edit)) {
        if (v === DELETE) {
          delete cfg[k];
        } else {
          cfg[k] = v;
        }
      }
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
      const t0 = performance.now();
      let error: unknown = null;
      try {
        const m = await loadModel(dir, { backend: 'cpu' });
        m.dispose();
      } catch (e) {
        error = e;
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      if (error === null) {
        problems.push(`[${label}] was accepted`);
      } else if (!(error instanceof Error) || ['TypeError', 'RangeError', 'ReferenceError'].includes(error.name)) {
        problems.push(`[${label}] crashed: ${String(error)}`);
      } else if (!(error.message.includes('config.json') || error.message.includes('.safetensors') || error.message.startsWith(dir)) || !says.test(error.message)) {
        problems.push(`[${label}] unclear message: ${error.message}`);
      } else if (error.message.includes('\n')) {
        problems.push(`[${label}] multi-line message: ${error.message}`);
      } else if (ms > 1000) {
        problems.push(`[${label}] took ${ms.toFixed(0)} ms`);
      }
    }
    process.stdout.write(`# slowest config case: ${slowest.toFixed(1)} ms\n`);
    assert.deepEqual(problems, []);
  });

  test('a NaN or ±Inf weight is refused by loadModel, naming the shard, the tensor and the element', async () => {
    const D = TINY.hiddenSize;
    const poisons: [string, number, number, RegExp][] = [
      ['model.layers.1.mlp.experts.2.up_proj.weight', 3 * D + 5, 0x7fc0, /first: NaN at \[3, 5\]/],
      ['model.embed_tokens.weight', 0, 0xff80, /first: -Infinity at \[0, 0\]/],
      ['model.layers.0.input_layernorm.weight', D - 1, 0x7f80, /first: Infinity at \[15\]/],
    ];
    for (const [i, [tensor, index, bits, first]] of poisons.entries()) {
      const dir = path.join(root, `nan${i}`);
      cpSync(base, dir, { recursive: true });
      const shard = poisonBf16(dir, tensor, index, bits);
      await assert.rejects(
        loadModel(dir, { backend: 'cpu' }),
        (e: Error) => {
          assert.ok(e.message.startsWith(path.join(dir, shard) + ': '), e.message);
          assert.ok(e.message.includes(`tensor ${JSON.stringify(tensor)}: holds 1 non-finite value `), e.message);
          assert.match(e.message, first);
          return true;
        },
      );
    }
  });

  test('model_type as a bigint (strict JSON reads big integers so) is named, not a crash', () => {
    assert.throws(() => familyFor(123456789012345678901234567890n), /^Error: config\.json: model_type 123456789012345678901234567890 is not a string; supported model types: /);
  });

  test('head size: every family refuses heads that do not divide hidden_size, unless it reads an explicit head_dim', () => {
    const sizes = { hidden_size: 48, num_attention_heads: 5, num_key_value_heads: 5, vocab_size: 32, num_hidden_layers: 2, intermediate_size: 8, moe_intermediate_size: 8, shared_expert_intermediate_size: 8 };
    const readsHeadDim = ['gpt_oss', 'mixtral', 'qwen3_moe'];
    for (const [type, family] of FAMILIES) {
      if (type === 'deepseek_v3') {
        continue; // MLA: its head sizes are their own keys
      }
      assert.throws(() => family.parseConfig({ model_type: type, ...sizes }), (e: Error) => {
        assert.equal(e.message, `config.json (${type}): 'num_attention_heads' (5) does not divide 'hidden_size' (48)${readsHeadDim.includes(type) ? " and no 'head_dim' is given" : ''}`);
        return true;
      });
      const withHeadDim = () => (family.parseConfig({ model_type: type, ...sizes, head_dim: 8 }) as Partial<{ headDim: number }>).headDim;
      if (readsHeadDim.includes(type)) {
        assert.equal(withHeadDim(), 8, type);
      } else {
        assert.throws(withHeadDim, /does not divide/, type);
      }
      assert.equal((family.parseConfig({ model_type: type, ...sizes, num_attention_heads: 6, num_key_value_heads: 6 }) as Partial<{ headDim: number }>).headDim, 8, type);
    }
  });
});
