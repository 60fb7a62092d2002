/**
 * Baby models, one shared runner per family (mlx-lm style): tiny random checkpoints written as real
 * safetensors, loaded by the engine, checked for shapes, expert ids in range, gate weights that sum
 * to 1 where the family renormalises (and < 1 where it does not), and a clean tensor count.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';
import { tf } from '../../../src/engine/backend';
import { loadModel } from '../../../src/engine/model';
import { BABY, makeBabyModel } from './babyModel';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const ids = [3, 17, 42, 5, 63, 0, 9, 9, 28, 11];

const cases = [
  { family: 'mixtral', overrides: {}, sums: 'one', shared: false, dense: [] as number[] },
  { family: 'qwen2_moe', overrides: { mlp_only_layers: [0] }, sums: 'below-one', shared: true, dense: [0] },
  { family: 'qwen3_moe', overrides: {}, sums: 'one', shared: false, dense: [] },
  { family: 'olmoe', overrides: {}, sums: 'below-one', shared: false, dense: [] },
  { family: 'granitemoe', overrides: {}, sums: 'one', shared: false, dense: [] },
] as const;

describe('baby models', () => {
  for (const c of cases) {
    test(c.family, async () => {
      const dir = makeBabyModel(c.family, c.overrides);
      dirs.push(dir);
      const model = await loadModel(dir, { backend: 'wasm' });
      try {
        assert.equal(model.info.modelType, c.family);
        assert.equal(model.info.hasSharedExpert, c.shared);
        assert.deepEqual(model.info.moeLayers, [0, 1].filter((l) => !(c.dense as readonly number[]).includes(l)));
        const before = tf.memory().numTensors;
        const r = await model.run(ids, { withLogits: true });
        assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
        assert.equal(r.layers.length, BABY.L);
        for (const l of r.layers) {
          if ((c.dense as readonly number[]).includes(l.layer)) {
            assert.equal(l.kind, 'dense');
            assert.equal(l.experts, null);
            continue;
          }
          assert.equal(l.kind, 'moe');
          assert.equal(l.routerLogits!.length, ids.length);
          assert.ok(l.routerLogits!.every((row) => row.length === BABY.E && row.every(Number.isFinite)));
          assert.ok(l.scores!.every((row) => row.length === BABY.E));
          for (let t = 0; t < ids.length; t++) {
            const ex = l.experts![t];
            const w = l.weights![t];
            assert.equal(ex.length, BABY.k);
            assert.equal(new Set(ex).size, BABY.k, 'distinct experts');
            assert.ok(ex.every((e) => Number.isInteger(e) && e >= 0 && e < BABY.E), 'expert ids in range');
            assert.ok(w.every((v, j) => v > 0 && (j === 0 || w[j - 1] >= v)), 'positive, descending');
            const sum = w.reduce((a, b) => a + b, 0);
            if (c.sums === 'one') {
              assert.ok(Math.abs(sum - 1) < 1e-6, `weights sum to 1, got ${sum}`);
            } else {
              assert.ok(sum < 1, `weights sum below 1, got ${sum}`);
              // softmax-raw: the weights are the scores of the chosen experts
              ex.forEach((e, j) => assert.ok(Math.abs(l.scores![t][e] - w[j]) < 1e-9));
            }
          }
          if (c.shared) {
            assert.ok(l.sharedWeight!.every((s) => s > 0 && s < 1), 'σ(g·x) in (0, 1)');
          } else {
            assert.equal(l.sharedWeight, null);
          }
        }
        assert.equal(r.logits!.length, ids.length);
        assert.ok(r.logits!.every((row) => row.length === BABY.V && row.every(Number.isFinite)));
        assert.equal(r.surprisal.length, ids.length);
        assert.equal(r.surprisal.at(-1), null);
        assert.ok(r.surprisal.slice(0, -1).every((s) => s !== null && s > 0 && Number.isFinite(s)));
      } finally {
        model.dispose();
      }
    });
  }

  test('granitemoe multipliers change the result as the config says (logits ÷ logits_scaling)', async () => {
    const a = makeBabyModel('granitemoe', { logits_scaling: 1 });
    const b = makeBabyModel('granitemoe', { logits_scaling: 4 });
    dirs.push(a, b);
    const [ma, mb] = [await loadModel(a, { backend: 'wasm' }), await loadModel(b, { backend: 'wasm' })];
    try {
      const [ra, rb] = [await ma.run(ids, { withLogits: true }), await mb.run(ids, { withLogits: true })];
      ra.logits!.forEach((row, t) => row.forEach((v, i) => assert.ok(Math.abs(v / 4 - rb.logits![t][i]) < 1e-5)));
    } finally {
      ma.dispose();
      mb.dispose();
    }
  });
});
