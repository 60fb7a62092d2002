/**
 * @file DeepSeek-V3 against transformers 4.57.6 (test/fixtures/deepseek_v3): MLA, YaRN with mscale,
 * sigmoid router with selection-only bias and group-limited top-k, shared expert, dense layer 0.
 * Plus the router's edge rules on hand-made numbers, where the fixture cannot reach them.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { chooseExperts, makeRouter, type DeepseekRouterSpec } from '../../src/engine/families/deepseek_v3';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint } from '../../src/engine/checkpoint/checkpoint';
import { BACKENDS, checkAgainstExpected, checkNoLeak, loadFixture, report, runCliTrace, type CliTrace } from './fixtureGolden';

const fx = loadFixture('deepseek_v3');

for (const backend of BACKENDS) {
  describe(`deepseek_v3 golden on ${backend} (moe-lens trace vs transformers)`, () => {
    let trace: CliTrace;
    before(() => {
      trace = runCliTrace(fx, backend);
    });

    test('routing, gate weights and logits match transformers', () => {
      assert.equal(trace.model.modelType, 'deepseek_v3');
      // torch.topk(sorted=False): HF's order is arbitrary, so (index, weight) pairs are compared as sets.
      report(`deepseek_v3 (${backend})`, checkAgainstExpected(trace, fx, { unordered: true }));
    });

    test('layer 0 is dense (first_k_dense_replace=1) and the shared expert weighs 1', () => {
      assert.equal(trace.layers[0].kind, 'dense');
      assert.equal(trace.layers[0].experts, null);
      for (const l of trace.layers.slice(1)) {
        assert.deepEqual(l.sharedWeight, fx.ids.map(() => 1));
      }
    });

    test('weights are the unbiased sigmoid scores, renormalised, times routed_scaling_factor 2.5', () => {
      for (const l of trace.layers.filter((x) => x.kind === 'moe')) {
        l.weights!.forEach((w, t) => {
          assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 2.5) < 1e-5, `layer ${l.layer} token ${t}: weights sum to 2.5`);
          const s = l.experts![t].map((e) => l.scores![t][e]);
          const sum = s.reduce((a, b) => a + b, 0);
          s.forEach((v, j) => assert.ok(Math.abs((v / sum) * 2.5 - w[j]) < 1e-6));
        });
      }
    });

    test('the selection bias changes the choice somewhere: chosen experts are not always the top-k scores', () => {
      let differs = 0;
      for (const l of trace.layers.filter((x) => x.kind === 'moe')) {
        l.scores!.forEach((s, t) => {
          const plain = s.map((_, e) => e).sort((a, b) => s[b] - s[a]).slice(0, 4).sort((a, b) => a - b);
          const chosen = [...l.experts![t]].sort((a, b) => a - b);
          differs += plain.join() === chosen.join() ? 0 : 1;
        });
      }
      assert.ok(differs > 0, 'fixture should exercise bias / group limits');
    });
  });
}

describe('deepseek_v3 selection quantity in the trace', () => {
  test('selection = σ(l) + e_score_correction_bias in the allowed groups, −∞ elsewhere; the chosen experts are its top k', async () => {
    const trace = runCliTrace(fx, 'cpu');
    const ckpt = await openCheckpoint(fx.dir);
    try {
      const config = JSON.parse(readFileSync(path.join(fx.dir, 'config.json'), 'utf8')) as { n_group: number; topk_group: number };
      const E = trace.model.numExperts;
      const size = E / config.n_group;
      for (const l of trace.layers.filter((x) => x.kind === 'moe')) {
        const bias = await ckpt.readFloat32(`model.layers.${l.layer}.mlp.gate.e_score_correction_bias`);
        assert.ok(l.selection, `layer ${l.layer} carries selection`);
        l.selection.forEach((q, t) => {
          const allowed = new Set(q.map((v, e) => (v === -Infinity ? -1 : Math.floor(e / size))).filter((g) => g >= 0));
          assert.equal(allowed.size, config.topk_group, `layer ${l.layer} token ${t}: topk_group groups allowed`);
          q.forEach((v, e) => {
            if (v !== -Infinity) {
              assert.ok(Math.abs(v - (l.scores![t][e] + bias[e]!)) < 1e-6, `layer ${l.layer} token ${t} expert ${e}: s + b`);
            }
          });
          const chosen = l.experts![t];
          const weakest = Math.min(...chosen.map((e) => q[e]));
          const bestOther = Math.max(...q.filter((_, e) => !chosen.includes(e)));
          assert.ok(weakest >= bestOther, `layer ${l.layer} token ${t}: the chosen experts are the top k of the selection quantity`);
        });
      }
    } finally {
      await ckpt.close();
    }
  });
});

describe('deepseek_v3 in process', () => {
  test('no tensor left behind by a run; dispose frees every weight', async () => {
    await checkNoLeak(fx);
  });
});

describe('deepseek_v3 router rules', () => {
  const spec = (bias: number[], over: Partial<DeepseekRouterSpec> = {}): DeepseekRouterSpec => ({
    bias,
    nGroup: 4,
    topkGroup: 2,
    normTopkProb: true,
    routedScalingFactor: 2.5,
    ...over,
  });

  test('experts of dropped groups count as 0.0, not −inf: with negative biases they can still be chosen', () => {
    // 8 experts, 4 groups of 2. Biased scores: groups 0 and 1 are best but strongly negative.
    const scores = [0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1];
    const bias = [-0.6, -0.7, -0.8, -0.9, -1.5, -1.5, -1.5, -1.5];
    // choice = [-0.1, -0.2, -0.3, -0.4, -1.4 ×4]; kept groups 0, 1; others masked to 0.0.
    // top-3 of [-0.1, -0.2, -0.3, -0.4, 0, 0, 0, 0] = experts 4, 5, 6 (ties to the lower index).
    assert.deepEqual(chooseExperts(scores, spec(bias), 3, new Set()), [4, 5, 6]);
  });

  test('group score is the sum of the top-2 biased scores, not the max', () => {
    // group 0: one high expert (0.9, 0.0) = 0.9; group 1: two good ones (0.5, 0.5) = 1.0; keep 1 group.
    const scores = [0.9, 0.0, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1];
    const chosen = chooseExperts(scores, spec(new Array(8).fill(0), { topkGroup: 1 }), 1, new Set());
    assert.deepEqual(chosen, [2]);
  });

  test('bias steers the choice only; weights use the unbiased scores', () => {
    const logits = [[0, 0, 0, 0, 0, 0, 2, 3]]; // σ: expert 7 highest
    const bias = [5, 4, 0, 0, 0, 0, 0, 0]; // pushes experts 0 and 1 into the choice
    const r = makeRouter(spec(bias, { nGroup: 1, topkGroup: 1 }))(logits, 2, new Set());
    assert.deepEqual([...r.experts[0]].sort(), [0, 1]);
    assert.ok(Math.abs(r.weights[0][0] - 1.25) < 1e-12 && Math.abs(r.weights[0][1] - 1.25) < 1e-12); // σ(0) each, renormalised × 2.5
  });

  test('blocked experts are never chosen; their group is scored by the experts left in it', () => {
    // group 0 = {0, 1}: with expert 0 blocked it scores 0.85 (expert 1 alone) and is still kept.
    const scores = [0.9, 0.85, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1];
    const chosen = chooseExperts(scores, spec(new Array(8).fill(0)), 2, new Set([0]));
    assert.deepEqual(chosen, [1, 2]);
    assert.deepEqual(chooseExperts(scores, spec(new Array(8).fill(0)), 2, new Set()), [0, 1]);
  });
});
