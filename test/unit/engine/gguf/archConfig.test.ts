/**
 * GGUF metadata → the config.json a family parses: llama.cpp's keys, widths from tensor shapes where
 * the file has no key, llama.cpp's per-architecture defaults, and one clear refusal for what no family
 * reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GgufEntry } from '../../../../src/engine/checkpoint/gguf/reader';
import { GgufValueType } from '../../../../src/engine/checkpoint/gguf/types';
import { ggufToHfConfig } from '../../../../src/engine/gguf/archConfig';
import { FAMILIES } from '../../../../src/engine/registry';

type Meta = Record<string, number | string | boolean>;

function metadata(m: Meta): Map<string, GgufEntry> {
  return new Map(
    Object.entries(m).map(([key, value]) => [
      key,
      {
        key,
        value,
        type: typeof value === 'string' ? GgufValueType.STRING : typeof value === 'boolean' ? GgufValueType.BOOL : Number.isInteger(value) ? GgufValueType.UINT32 : GgufValueType.FLOAT32,
      },
    ]),
  );
}

/** Config for `meta` and tensors {name: shape}, parsed by its family as loadModel does. */
function parsed(meta: Meta, shapes: Record<string, number[]>): Record<string, unknown> {
  const config = ggufToHfConfig(metadata(meta), Object.keys(shapes), (n) => shapes[n], 'model.gguf');
  return { config, spec: FAMILIES.get(config.model_type as string)?.parseConfig(config) };
}

const OLMOE_TENSORS = {
  'token_embd.weight': [50304, 2048],
  'output.weight': [50304, 2048],
  'blk.0.attn_q.weight': [2048, 2048],
  'blk.0.ffn_gate_inp.weight': [64, 2048],
  'blk.0.ffn_gate_exps.weight': [64, 1024, 2048],
};
const OLMOE_META: Meta = {
  'general.architecture': 'olmoe',
  'olmoe.block_count': 16,
  'olmoe.embedding_length': 2048,
  'olmoe.feed_forward_length': 1024,
  'olmoe.attention.head_count': 16,
  'olmoe.attention.head_count_kv': 16,
  'olmoe.attention.layer_norm_rms_epsilon': 1e-5,
  'olmoe.rope.freq_base': 10000,
  'olmoe.expert_count': 64,
  'olmoe.expert_used_count': 8,
  'olmoe.context_length': 4096,
};

describe('GGUF architecture → family config', () => {
  it("OLMoE as llama.cpp writes it (only feed_forward_length): expert width from the stacked tensor, not renormalised, untied", () => {
    const { config, spec } = parsed(OLMOE_META, OLMOE_TENSORS) as { config: Record<string, unknown>; spec: Record<string, unknown> };
    assert.equal(config.model_type, 'olmoe');
    assert.equal(spec.intermediateSize, 1024);
    assert.equal(spec.numExperts, 64);
    assert.equal(spec.topK, 8);
    assert.equal(spec.normTopkProb, false);
    assert.equal(spec.tieWordEmbeddings, false);
    assert.equal(spec.vocabSize, 50304);
  });

  it('widths from shapes when keys are absent; an absent output.weight means tied embeddings', () => {
    const meta = { ...OLMOE_META };
    delete meta['olmoe.feed_forward_length'];
    delete meta['olmoe.embedding_length'];
    const shapes: Record<string, number[]> = { ...OLMOE_TENSORS };
    delete shapes['output.weight'];
    const { spec } = parsed(meta, shapes) as { spec: Record<string, unknown> };
    assert.equal(spec.intermediateSize, 1024);
    assert.equal(spec.hiddenSize, 2048);
    assert.equal(spec.tieWordEmbeddings, true);
  });

  it("llama.cpp's renormalisation defaults: qwen2moe no, qwen3moe yes, unless expert_weights_norm says", () => {
    const qwen = (arch: string, extra: Meta = {}): unknown => {
      const meta: Meta = {
        'general.architecture': arch,
        [`${arch}.block_count`]: 1,
        [`${arch}.attention.head_count`]: 4,
        [`${arch}.expert_count`]: 8,
        [`${arch}.expert_used_count`]: 2,
        [`${arch}.expert_feed_forward_length`]: 32,
        [`${arch}.expert_shared_feed_forward_length`]: 48,
        [`${arch}.feed_forward_length`]: 96,
        ...extra,
      };
      return (parsed(meta, { 'token_embd.weight': [512, 64], 'blk.0.ffn_gate_exps.weight': [8, 32, 64], 'blk.0.attn_q.weight': [64, 64] }) as { spec: { normTopkProb: boolean } }).spec.normTopkProb;
    };
    assert.equal(qwen('qwen2moe'), false);
    assert.equal(qwen('qwen3moe'), true);
    assert.equal(qwen('qwen2moe', { 'qwen2moe.expert_weights_norm': true }), true);
  });

  it('refuses by name: an architecture no family reads, a dense llama, DeepSeek-V2 softmax routing', () => {
    assert.throws(() => parsed({ 'general.architecture': 'phi3' }, { 'token_embd.weight': [8, 8] }), /GGUF architecture 'phi3' is not a Mixture-of-Experts family MoE Lens reads \(supported: .*qwen3moe/);
    assert.throws(() => parsed({ 'general.architecture': 'llama' }, { 'token_embd.weight': [8, 8] }), /dense model/);
    assert.throws(
      () => parsed({ 'general.architecture': 'deepseek2', 'deepseek2.expert_count': 64, 'deepseek2.expert_gating_func': 1 }, { 'token_embd.weight': [8, 8], 'blk.0.attn_kv_b.weight': [8, 8] }),
      /routes with softmax \(DeepSeek-V2\)/,
    );
    assert.throws(() => parsed({}, { 'token_embd.weight': [8, 8] }), /no "general.architecture"/);
  });
});
