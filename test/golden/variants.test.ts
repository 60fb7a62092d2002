/**
 * @file The fixture variants (test/fixtures/variants/, made by transformers 4.57.6 with
 * tools/fixtures/make_fixtures.py): the same families with the other settings their configs allow,
 * e.g. DeepSeek-V3 without q LoRA, non-interleaved RoPE, unnormalised weights and a YaRN factor that
 * differs from max/original; gpt-oss with plain RoPE and a custom layer_types; OLMoE with clip_qkv,
 * norm_topk_prob and linear RoPE; GraniteMoE with k=3 and other multipliers; and DeepSeek-V3 / gpt-oss
 * on 160 tokens.
 * Same tolerances as the main golden tests, on the default (wasm) backend.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkAgainstExpected, loadFixture, report, runCliTrace } from './fixtureGolden';

const VARIANTS: { name: string; modelType: string; unordered: boolean }[] = [
  { name: 'deepseek_v3_b', modelType: 'deepseek_v3', unordered: true },
  { name: 'gpt_oss_b', modelType: 'gpt_oss', unordered: false },
  { name: 'olmoe_b', modelType: 'olmoe', unordered: false },
  { name: 'granitemoe_b', modelType: 'granitemoe', unordered: false },
  // 160 tokens: many sliding windows of 8, YaRN at later positions, more routing decisions.
  { name: 'long/deepseek_v3', modelType: 'deepseek_v3', unordered: true },
  { name: 'long/gpt_oss', modelType: 'gpt_oss', unordered: false },
];

describe('golden variants (moe-lens trace vs transformers)', () => {
  for (const v of VARIANTS) {
    test(v.name, () => {
      const fx = loadFixture(`variants/${v.name}`);
      const trace = runCliTrace(fx, 'wasm');
      assert.equal(trace.model.modelType, v.modelType);
      report(v.name, checkAgainstExpected(trace, fx, { unordered: v.unordered }));
    });
  }
});
