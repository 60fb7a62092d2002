/**
 * Counterfactual passes on every family fixture (issue 12's "Must show" for the engine): the model's
 * own k changes nothing, expert choice fills every expert to exactly C, removing an expert no token
 * chose changes nothing, dense over a single expert is that expert; and a pass that starts at layer L
 * from the kept residual stream equals one that recomputes every layer.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { counterfactualIds } from '../../../src/engine/analyze';
import { tf } from '../../../src/engine/backend';
import { loadModel, type Model } from '../../../src/engine/model';
import type { CounterfactualPassDoc } from '../../../src/shared/counterfactual';
import { makeBabyModel } from './babyModel';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures');
const FAMILIES = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'deepseek_v3', 'gpt_oss'];

function fixtureIds(family: string): number[] {
  const input = JSON.parse(fs.readFileSync(path.join(fixtures, family, 'input.json'), 'utf8')) as { input_ids: number[][] };
  return input.input_ids[0];
}

async function pass(model: Model, ids: number[], mode: string): Promise<CounterfactualPassDoc> {
  return (await counterfactualIds(model, ids, mode)) as CounterfactualPassDoc;
}

for (const family of FAMILIES) {
  describe(`counterfactuals on the ${family} fixture`, () => {
    const ids = fixtureIds(family);
    let model: Model;
    after(() => model?.dispose());

    test("the model's own k: KL < 1e-6 and its own experts", async () => {
      model = await loadModel(path.join(fixtures, family), { backend: 'wasm' });
      const base = await model.run(ids);
      const before = tf.memory().numTensors;
      const cf = await pass(model, ids, `topk:${model.info.topK}`);
      assert.equal(tf.memory().numTensors, before, 'every tensor of the passes is freed');
      assert.equal(cf.kl.length, ids.length);
      assert.ok(Math.max(...cf.kl) < 1e-6, `max KL ${Math.max(...cf.kl)}`);
      assert.ok(cf.surprisalDelta.slice(0, -1).every((d) => d !== null && Math.abs(d) < 1e-5));
      assert.equal(cf.surprisalDelta.at(-1), null, 'the last token has no next token');
      const moe = base.layers.filter((l) => l.kind === 'moe');
      assert.deepEqual(cf.layers.map((l) => l.layer), moe.map((l) => l.layer));
      assert.deepEqual(cf.layers.map((l) => l.experts), moe.map((l) => l.experts));
    });

    test('expert choice gives every expert exactly C tokens', async () => {
      const E = model.info.numExperts;
      for (const F of [0.5, 1, 2]) {
        const C = Math.max(1, Math.floor((ids.length * F) / E));
        const cf = await pass(model, ids, `expert-choice:${F}`);
        assert.equal(cf.causal, false, 'expert choice is flagged as not causal');
        for (const l of cf.layers) {
          const load = new Array<number>(E).fill(0);
          l.experts.flat().forEach((e) => load[e]++);
          assert.deepEqual(load, new Array<number>(E).fill(C), `layer ${l.layer}, F=${F}`);
        }
      }
    });

    test('ablating an expert no token chose changes nothing', async () => {
      // One token uses k experts per layer, so every layer has unchosen ones.
      const one = ids.slice(0, 3);
      const base = await model.run(one);
      const moe = base.layers.filter((l) => l.kind === 'moe');
      let checked = 0;
      for (const l of moe) {
        const used = new Set(l.experts!.flat());
        const unused = Array.from({ length: model.info.numExperts }, (_, e) => e).filter((e) => !used.has(e));
        assert.ok(unused.length > 0);
        const cf = await pass(model, one, `ablate:${l.layer}:${unused.join(',')}`);
        assert.deepEqual(cf.kl, cf.kl.map(() => 0), `layer ${l.layer}: KL is exactly 0`);
        assert.deepEqual(cf.layers.map((x) => x.experts), moe.map((x) => x.experts));
        checked++;
      }
      assert.equal(checked, moe.length);
    });

    test('ablating a chosen expert in layer L: the next-best fills in there, layers before L are untouched', async () => {
      const base = await model.run(ids);
      const moe = base.layers.filter((l) => l.kind === 'moe');
      const target = moe[moe.length - 1];
      const victim = target.experts![0][0];
      const cf = await pass(model, ids, `ablate:${target.layer}:${victim}`);
      const k = model.info.topK;
      const L = cf.layers.find((l) => l.layer === target.layer)!;
      assert.ok(L.experts.every((row) => row.length === k && !row.includes(victim)));
      cf.layers.filter((l) => l.layer < target.layer).forEach((l) => assert.deepEqual(l.experts, moe.find((m) => m.layer === l.layer)!.experts));
      assert.ok(Math.max(...cf.kl) > 0);
    });
  });
}

describe('dense over E = 1 equals that expert (baby models)', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  for (const family of ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'] as const) {
    test(family, async () => {
      const key = family === 'mixtral' || family === 'granitemoe' ? 'num_local_experts' : 'num_experts';
      const dir = makeBabyModel(family, { [key]: 1, num_experts_per_tok: 1 });
      dirs.push(dir);
      const model = await loadModel(dir, { backend: 'wasm' });
      try {
        const ids = [1, 5, 9, 13, 17, 21];
        const cf = await pass(model, ids, 'dense');
        assert.ok(cf.layers.length > 0);
        for (const l of cf.layers) {
          assert.deepEqual(l.experts, ids.map(() => [0]));
          assert.deepEqual(l.weights, ids.map(() => [1]), 'the one expert at weight 1, as the model itself uses it');
        }
        assert.ok(Math.max(...cf.kl) < 1e-6);
      } finally {
        model.dispose();
      }
    });
  }
});
