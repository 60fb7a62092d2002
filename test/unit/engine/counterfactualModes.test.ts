/**
 * The routing overrides behind the counterfactual modes, on hand-made logits (capacity drops, the
 * forced expert's weight, dense per family, one-layer overrides), the mode grammar, and the engine
 * function around the passes: resuming at layer L equals recomputing every layer; progress; abort.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tf } from '../../../src/engine/backend';
import { expandMode, parseMode } from '../../../src/engine/counterfactualModes';
import { makeRouter as deepseekRouter } from '../../../src/engine/families/deepseek_v3';
import { route as gptOssRoute } from '../../../src/engine/families/gpt_oss';
import { route as graniteRoute } from '../../../src/engine/families/granitemoe';
import { route as mixtralRoute } from '../../../src/engine/families/mixtral';
import { makeRouter as olmoeRouter } from '../../../src/engine/families/olmoe';
import { makeRouter as qwenRouter } from '../../../src/engine/families/qwen2_moe';
import { makeRouter as qwen3Router } from '../../../src/engine/families/qwen3_moe';
import { loadModel, type Model } from '../../../src/engine/model';
import { routeLayer, sigmoid, softmax, type FamilyRouter, type RoutingOverride } from '../../../src/engine/routing';

const close = (a: number[][], b: number[][]): void =>
  a.forEach((row, t) => row.forEach((v, j) => assert.ok(Math.abs(v - b[t][j]) < 1e-12, `[${t}][${j}] ${v} vs ${b[t][j]}`)));

function route(familyRouter: FamilyRouter, logits: number[][], k: number, override?: RoutingOverride, layer = 3) {
  return routeLayer({ layer, logits, k, familyRouter }, override);
}

describe('routing overrides', () => {
  test('capacity: C = ⌈T·k·F/E⌉ per expert in position order; later assignments are dropped, kept weights unchanged', () => {
    const logits = [
      [3, 0, 1, -1],
      [3, 1, 0, -1],
      [2, 0, 1, -1],
      [0, 3, 1, -1],
    ]; // every token's first choice is expert 0 except the last
    const own = route(mixtralRoute, logits, 2);
    const r = route(mixtralRoute, logits, 2, { kind: 'capacity', factor: 0.5 }); // C = ⌈4·2·0.5/4⌉ = 1
    assert.deepEqual(r.dropped, [[], [0], [0, 2], [1, 2]]);
    assert.deepEqual(r.experts, [[0, 2], [1], [], []]);
    assert.deepEqual(r.weights[0], own.weights[0]);
    assert.deepEqual(r.weights[1], [own.weights[1][1]]);
    const roomy = route(mixtralRoute, logits, 2, { kind: 'capacity', factor: 4 });
    assert.deepEqual(roomy.experts, own.experts);
    assert.deepEqual(roomy.dropped, [[], [], [], []]);
  });

  test("force: the forced expert replaces the k-th choice; weights are the family's gate over that set", () => {
    const logits = [
      [2, 1, 0, -3],
      [-3, 0, 1, 2],
    ];
    const s = logits.map(softmax);
    const mix = route(mixtralRoute, logits, 2, { kind: 'force', expert: 3 });
    assert.deepEqual(mix.experts, [[0, 3], [3, 2]], 'token 1 already chose 3 and keeps its set');
    close(mix.weights, [
      [s[0][0] / (s[0][0] + s[0][3]), s[0][3] / (s[0][0] + s[0][3])],
      [s[1][3] / (s[1][3] + s[1][2]), s[1][2] / (s[1][3] + s[1][2])],
    ]);
    const qwen = route(qwenRouter(false), logits, 2, { kind: 'force', expert: 3 });
    close(qwen.weights, [
      [s[0][0], s[0][3]],
      [s[1][3], s[1][2]],
    ]);
    const oss = route(gptOssRoute, logits, 2, { kind: 'force', expert: 3 });
    close(oss.weights, [softmax([2, -3]), softmax([2, 1])]);
  });

  test('dense: the family router at k = E (softmax over all for softmax families; DeepSeek σ/Σσ × scale)', () => {
    const logits = [[0.5, -1, 2, 0, 1, -0.5]];
    const mix = route(mixtralRoute, logits, 2, { kind: 'dense' });
    assert.equal(mix.experts[0].length, 6);
    close(mix.weights, [mix.experts[0].map((e) => softmax(logits[0])[e])]);
    const oss = route(gptOssRoute, logits, 2, { kind: 'dense' });
    close(oss.weights, mix.weights);
    const spec = { bias: [0.3, -0.2, 0, 0.1, 0, 0], nGroup: 3, topkGroup: 1, normTopkProb: true, routedScalingFactor: 2.5 };
    const ds = route(deepseekRouter(spec), logits, 2, { kind: 'dense' });
    const sig = logits[0].map(sigmoid);
    const sum = sig.reduce((a, b) => a + b, 0);
    assert.equal(ds.experts[0].length, 6, 'every expert, whatever the group limit');
    close(ds.weights, [ds.experts[0].map((e) => (sig[e] / sum) * 2.5)]);
  });

  test('dense over E = 1 is that one expert as the family weights it, for all seven routers', () => {
    const logits = [[0.7], [-2], [5]];
    const routers: [string, FamilyRouter][] = [
      ['mixtral', mixtralRoute],
      ['qwen2_moe', qwenRouter(false)],
      ['qwen3_moe', qwen3Router(true)],
      ['olmoe', olmoeRouter(false)],
      ['granitemoe', graniteRoute],
      ['gpt_oss', gptOssRoute],
      ['deepseek_v3', deepseekRouter({ bias: [0.1], nGroup: 1, topkGroup: 1, normTopkProb: true, routedScalingFactor: 2.5 })],
    ];
    for (const [name, r] of routers) {
      const own = route(r, logits, 1);
      const dense = route(r, logits, 1, { kind: 'dense' });
      assert.deepEqual(dense.experts, [[0], [0], [0]], name);
      assert.deepEqual(dense.weights, own.weights, name);
      assert.deepEqual(dense.weights, logits.map(() => [name === 'deepseek_v3' ? 2.5 : 1]), name);
    }
  });

  test('an override limited to another layer routes as the family does', () => {
    const logits = [[1, 0, 2, -1]];
    const own = route(mixtralRoute, logits, 2);
    assert.deepEqual(route(mixtralRoute, logits, 2, { kind: 'topk', k: 1, layer: 7 }, 3), own);
    assert.equal(route(mixtralRoute, logits, 2, { kind: 'topk', k: 1, layer: 3 }, 3).experts[0].length, 1);
  });

  test('expert choice: ties go to the earlier token; a token may be served by none', () => {
    const logits = [
      [1, 0],
      [1, 0],
      [0, 5],
    ];
    const r = route(mixtralRoute, logits, 1, { kind: 'expert-choice', capacity: 1 }); // C = max(1, ⌊3·1/2⌋) = 1
    assert.deepEqual(r.experts, [[0], [], [1]]);
  });

  test('bad overrides are clear errors', () => {
    const logits = [[1, 0, 2, -1]];
    assert.throws(() => route(mixtralRoute, logits, 2, { kind: 'force', expert: 4 }), /expert must be an integer in 0\.\.3/);
    assert.throws(() => route(mixtralRoute, logits, 2, { kind: 'ablate', experts: [0, 1, 2, 3] }), /cannot remove all 4 experts/);
    assert.throws(() => route(mixtralRoute, logits, 2, { kind: 'capacity', factor: 0 }), /capacity factor must be a finite number > 0/);
  });
});

describe('the mode grammar', () => {
  const model = { numExperts: 4, topK: 2, moeLayers: [1, 2] };
  test('each mode → its passes', () => {
    assert.deepEqual(expandMode(parseMode('topk:3@2'), model), [{ mode: 'topk:3@2', routing: { kind: 'topk', k: 3, layer: 2 }, fromLayer: 2 }]);
    assert.deepEqual(expandMode(parseMode('topk:1'), model)[0].fromLayer, null);
    assert.deepEqual(expandMode(parseMode('ablate:1:0,3'), model)[0].routing, { kind: 'ablate', experts: [0, 3], layer: 1 });
    assert.deepEqual(expandMode(parseMode('force:2:3'), model)[0].routing, { kind: 'force', expert: 3, layer: 2 });
    assert.deepEqual(expandMode(parseMode('capacity:1.25'), model)[0].routing, { kind: 'capacity', factor: 1.25, layer: undefined });
    assert.deepEqual(expandMode(parseMode('expert-choice:2'), model)[0].routing, { kind: 'expert-choice', capacity: 2, layer: undefined });
    assert.deepEqual(
      expandMode(parseMode('sweep-k'), model).map((p) => p.mode),
      ['topk:1', 'topk:2', 'topk:3', 'topk:4'],
    );
    assert.deepEqual(
      expandMode(parseMode('ablate-each:2'), model).map((p) => [p.mode, p.fromLayer]),
      [0, 1, 2, 3].map((e) => [`ablate:2:${e}`, 2]),
    );
  });
  test('refusals name the problem', () => {
    const bad: [string, RegExp][] = [
      ['topk:5', /k must be in 1\.\.4/],
      ['topk:0', /k must be in 1\.\.4/],
      ['topk:x', /k must be a non-negative integer/],
      ['topk:2@0', /layer 0 is not an MoE layer of this model \(MoE layers: 1, 2\)/],
      ['ablate:1:4', /expert 4 does not exist/],
      ['ablate:1:0,1,2,3', /cannot remove all 4 experts/],
      ['force:1:2@1', /no @L/],
      ['capacity:-1', /factor must be a number > 0/],
      ['expert-choice:', /factor must be a number > 0/],
      ['dense:2', /dense takes 0 arguments/],
      ['softmax', /unknown mode 'softmax'/],
      ['ablate-each:9', /layer 9 is not an MoE layer/],
    ];
    for (const [text, why] of bad) {
      assert.throws(() => expandMode(parseMode(text), model), why, text);
    }
  });
});

describe('passes from layer L', () => {
  let model: Model;
  const fixture = path.resolve(__dirname, '..', '..', 'fixtures', 'qwen2_moe');
  const ids = (JSON.parse(fs.readFileSync(path.join(fixture, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0];
  before(async () => {
    model = await loadModel(fixture, { backend: 'wasm' });
  });
  after(() => model.dispose());

  test('resuming from the kept residual stream equals recomputing every layer', async () => {
    const routing: RoutingOverride = { kind: 'topk', k: 1, layer: 2 };
    const [resumed, full] = await model.counterfactual(ids, [
      { mode: 'resumed', routing, fromLayer: 2 },
      { mode: 'full', routing, fromLayer: null },
    ]);
    assert.ok(Math.max(...resumed.kl) > 0);
    assert.deepEqual(resumed.kl, full.kl);
    assert.deepEqual(resumed.surprisalDelta, full.surprisalDelta);
    assert.deepEqual(resumed.layers, full.layers);
  });

  test('KL(model ‖ cf) and Δsurprisal are those of the two runs’ next-token distributions (float64 on the host)', async () => {
    const routing: RoutingOverride = { kind: 'expert-choice', capacity: 1 };
    const [cf] = await model.counterfactual(ids, [{ mode: 'ec', routing, fromLayer: null }]);
    const p = await model.run(ids, { withLogits: true });
    const q = await model.run(ids, { withLogits: true, routing });
    const logSoftmax = (row: number[]): number[] => {
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      return row.map((v) => v - lse);
    };
    ids.forEach((_, t) => {
      const [lp, lq] = [logSoftmax(p.logits![t]), logSoftmax(q.logits![t])];
      const kl = lp.reduce((s, v, i) => s + Math.exp(v) * (v - lq[i]), 0);
      assert.ok(Math.abs(cf.kl[t] - kl) < 1e-5 + 1e-3 * kl, `token ${t}: ${cf.kl[t]} vs ${kl}`);
      if (t + 1 < ids.length) {
        assert.ok(Math.abs(cf.surprisalDelta[t]! - (q.surprisal[t]! - p.surprisal[t]!)) < 1e-4, `token ${t}`);
      }
    });
    assert.ok(Math.max(...cf.kl) > 1e-3, 'expert choice moves the distributions of this fixture');
  });

  test('progress rises to 1 and counts only the layers a resumed pass runs', async () => {
    const seen: string[] = [];
    let last = 0;
    await model.counterfactual(ids, [{ mode: 'topk:1@2', routing: { kind: 'topk', k: 1, layer: 2 }, fromLayer: 2 }], {
      onProgress: (f, m) => {
        assert.ok(f >= last);
        last = f;
        seen.push(m);
      },
    });
    assert.equal(last, 1);
    assert.deepEqual(
      seen.filter((m) => m.startsWith('topk')),
      ['topk:1@2: layer 3/3'],
    );
  });

  test('abort rejects and frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const run = model.counterfactual(ids, [{ mode: 'dense', routing: { kind: 'dense' }, fromLayer: null }], {
      signal: ac.signal,
      onProgress: (_f, m) => (m.startsWith('dense') ? ac.abort() : undefined),
    });
    await assert.rejects(run, (err: Error) => err.name === 'AbortError');
    assert.equal(tf.memory().numTensors, before);
  });
});
