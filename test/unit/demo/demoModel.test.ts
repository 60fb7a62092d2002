/**
 * @file The shipped demo model (models/demo) run by our engine must route exactly as PyTorch does:
 * router logits within 1e-4 of the ones recorded by tools/train-demo/fixture.py from the same bf16
 * weights on a held-out passage, hence the same top-k experts, and the same next-token surprisal.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModel, type Model, type RunResult } from '../../../src/engine/model';

interface Fixture {
  modelSha256: string;
  ids: number[];
  layers: { layer: number; routerLogits: number[][]; topk: number[][] }[];
  surprisal: (number | null)[];
}

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DEMO = path.join(ROOT, 'models', 'demo');
const fixture = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'demo', 'router_logits.json'), 'utf8')) as Fixture;

const LOGIT_TOL = 1e-4;
const SURPRISAL_TOL = 1e-3;

describe('demo model (models/demo) against PyTorch', () => {
  let model: Model;
  let run: RunResult;

  before(async () => {
    model = await loadModel(DEMO);
    run = await model.run(fixture.ids);
  });
  after(() => model?.dispose());

  test('the fixture was recorded from the shipped weights', () => {
    const sha = createHash('sha256').update(readFileSync(path.join(DEMO, 'model.safetensors'))).digest('hex');
    assert.equal(sha, fixture.modelSha256, 'models/demo/model.safetensors changed: rerun tools/train-demo/fixture.py');
  });

  test('model info describes a qwen2_moe with a shared expert', () => {
    assert.equal(model.info.modelType, 'qwen2_moe');
    assert.equal(model.info.hasSharedExpert, true);
    assert.deepEqual(model.info.moeLayers, fixture.layers.map((l) => l.layer));
    assert.ok(model.maxContext >= 512);
  });

  test('router logits match PyTorch within 1e-4 in every MoE layer', () => {
    for (const want of fixture.layers) {
      const got = run.layers.find((l) => l.layer === want.layer);
      assert.ok(got?.routerLogits, `layer ${want.layer} has no router logits`);
      assert.equal(got.routerLogits.length, fixture.ids.length);
      let worst = 0;
      want.routerLogits.forEach((row, t) => {
        row.forEach((v, e) => {
          worst = Math.max(worst, Math.abs(got.routerLogits![t][e] - v));
        });
      });
      assert.ok(worst <= LOGIT_TOL, `layer ${want.layer}: max |Δ router logit| = ${worst}`);
    }
  });

  test('the same experts are chosen (where PyTorch’s choice is not a near tie)', () => {
    for (const want of fixture.layers) {
      const got = run.layers.find((l) => l.layer === want.layer)!;
      want.topk.forEach((experts, t) => {
        const logits = want.routerLogits[t];
        const sorted = [...logits].sort((a, b) => b - a);
        const k = experts.length;
        if (sorted[k - 1] - sorted[k] < 1e-3) {
          return; // a tie within rounding may legitimately pick either expert
        }
        assert.deepEqual([...got.experts![t]].sort((a, b) => a - b), [...experts].sort((a, b) => a - b), `layer ${want.layer} token ${t}`);
      });
    }
  });

  test('next-token surprisal matches PyTorch', () => {
    assert.equal(run.surprisal.length, fixture.ids.length);
    fixture.surprisal.forEach((s, t) => {
      // PyTorch scores token t given 0..t-1 (null for t = 0); the engine gives, at t, the surprisal of t+1.
      if (s === null) {
        return;
      }
      const got = run.surprisal[t - 1];
      assert.ok(got !== null && Math.abs(got - s) <= SURPRISAL_TOL, `token ${t}: ${got} vs ${s}`);
    });
  });
});
