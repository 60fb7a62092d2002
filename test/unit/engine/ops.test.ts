/**
 * The shared ops against independent references: RoPE frequencies against transformers' formulas
 * run in torch (ropeReference.json, made by make_rope_reference.py), attention against a naive
 * loop (causal, sliding window, gpt-oss's sinks, GQA), RMSNorm by hand, and the expert-gathered MoE against
 * running every expert on every token with a dense weight mask.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { expertFfn, swigluExperts, swigluMlp, type SwigluWeights } from '../../../src/engine/moe';
import { attention, parseRopeScaling, rmsNorm, ropeInvFreq, ropeTables, type RopeSpec } from '../../../src/engine/ops';
import { sinkSoftmax } from '../../../src/engine/families/gpt_oss';
import { rng } from './babyModel';

interface RopeRef {
  inv: number[];
  att: number;
}
const ref = JSON.parse(fs.readFileSync(path.join(__dirname, 'ropeReference.json'), 'utf8')) as Record<string, RopeRef> & {
  cos_long: { cos: number[][]; sin: number[][] };
};

before(async () => {
  await initBackend('wasm');
});

function spec(theta: number, dim: number, maxPositions: number, scaling: unknown): RopeSpec {
  return { theta, dim, maxPositions, scaling: parseRopeScaling(scaling, maxPositions) };
}

function closeArrays(actual: ArrayLike<number>, expected: number[], relTol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-30);
    assert.ok(err <= relTol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('rope', () => {
  const cases: [string, RopeSpec][] = [
    ['default', spec(1e6, 16, 256, null)],
    ['yarn_gptoss', spec(150000, 64, 131072, { rope_type: 'yarn', factor: 32, beta_fast: 32, beta_slow: 1, truncate: false, original_max_position_embeddings: 4096 })],
    ['yarn_deepseek', spec(10000, 64, 163840, { type: 'yarn', factor: 40, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1, original_max_position_embeddings: 4096 })],
    ['yarn_qwen', spec(1e6, 128, 32768, { rope_type: 'yarn', factor: 4 })],
    ['llama3', spec(500000, 128, 131072, { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 })],
  ];
  for (const [name, s] of cases) {
    test(`${name}: inverse frequencies and attention factor as transformers`, () => {
      const { invFreq, attentionScaling } = ropeInvFreq(s);
      closeArrays(invFreq, ref[name].inv, 2e-7, name);
      assert.ok(Math.abs(attentionScaling - ref[name].att) < 1e-12, `${name}: attention factor ${attentionScaling} vs ${ref[name].att}`);
    });
  }

  test('cos/sin at long positions round like torch float32', async () => {
    const t = ropeTables(spec(10000, 64, 32768, null), [4095, 32767]);
    const [cos, sin] = [(await t.cos.array()) as number[][], (await t.sin.array()) as number[][]];
    t.cos.dispose();
    t.sin.dispose();
    ref.cos_long.cos.forEach((row, p) => row.forEach((v, i) => assert.ok(Math.abs(cos[p][i] - v) < 2e-6, `cos[${p}][${i}]`)));
    ref.cos_long.sin.forEach((row, p) => row.forEach((v, i) => assert.ok(Math.abs(sin[p][i] - v) < 2e-6, `sin[${p}][${i}]`)));
  });

  test('unsupported scalings are named', () => {
    assert.throws(() => parseRopeScaling({ rope_type: 'longrope' }, 4096), /rope scaling 'longrope' is not supported/);
  });
});

/** softmax(q·k·scale + mask (+ sink)) · v, one query at a time. */
function naiveAttention(q: number[][][], k: number[][][], v: number[][][], scale: number, window: number | null, sinks: number[] | null): number[][] {
  const H = q[0].length;
  const groups = H / k[0].length;
  return q.map((_, t) =>
    Array.from({ length: H }, (_, h) => {
      const kv = Math.floor(h / groups);
      const logits = k.map((ks, s) => (s <= t && (window === null || t - s < window) ? ks[kv].reduce((a, x, i) => a + x * q[t][h][i], 0) * scale : -Infinity));
      const all = sinks ? [...logits, sinks[h]] : logits;
      const max = Math.max(...all);
      const exps = all.map((l) => Math.exp(l - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      return v[0][kv].map((_, i) => logits.reduce((acc, _l, s) => acc + (exps[s] / sum) * v[s][kv][i], 0));
    }).flat(),
  );
}

describe('attention', () => {
  const rand = rng(11);
  const [T, H, KV, hd] = [7, 4, 2, 5];
  const mk = (heads: number): number[][][] => Array.from({ length: T }, () => Array.from({ length: heads }, () => Array.from({ length: hd }, () => rand(1))));
  const q = mk(H);
  const k = mk(KV);
  const v = mk(KV);
  const variants: [string, number | null, number[] | null][] = [
    ['causal GQA', null, null],
    ['sliding window 3', 3, null],
    ['sinks + window', 3, [0.5, -1, 2, 0]],
  ];
  for (const [name, window, sinks] of variants) {
    test(name, async () => {
      const out = tf.tidy(() =>
        attention(tf.tensor3d(q), tf.tensor3d(k), tf.tensor3d(v), { scale: 0.7, slidingWindow: window, headSoftmax: sinks ? sinkSoftmax(tf.tensor1d(sinks)) : undefined }),
      );
      const ours = (await out.array()) as number[][];
      out.dispose();
      const expected = naiveAttention(q, k, v, 0.7, window, sinks);
      ours.forEach((row, t) => row.forEach((x, i) => assert.ok(Math.abs(x - expected[t][i]) < 1e-5, `${name} [${t}][${i}]`)));
    });
  }
});

describe('rmsNorm and the expert-gathered MoE', () => {
  test('rmsNorm', async () => {
    const x = [
      [1, 2, 3, 4],
      [-1, 0.5, 0, 2],
    ];
    const w = [1, 0.5, 2, -1];
    const out = tf.tidy(() => rmsNorm(tf.tensor2d(x), tf.tensor1d(w), 1e-6));
    const ours = (await out.array()) as number[][];
    out.dispose();
    x.forEach((row, t) => {
      const r = Math.sqrt(row.reduce((a, b) => a + b * b, 0) / row.length + 1e-6);
      row.forEach((val, i) => assert.ok(Math.abs(ours[t][i] - (val / r) * w[i]) < 1e-6));
    });
  });

  test('gather → expert → scatter-add equals every expert on every token with a dense mask', async () => {
    const rand = rng(5);
    const [T, D, I, E] = [9, 6, 4, 5];
    const m = (r: number, c: number): tf.Tensor2D => tf.tensor2d(Array.from({ length: r * c }, () => rand(1)), [r, c]);
    const experts: SwigluWeights[] = Array.from({ length: E }, () => ({ gateUp: { wT: m(D, 2 * I), b: null }, down: { wT: m(I, D), b: null } }));
    const x = m(T, D);
    const chosen = Array.from({ length: T }, (_, t) => [t % E, (t * 3 + 1) % E].filter((e, j, a) => a.indexOf(e) === j));
    const weights = chosen.map((row) => row.map(() => rand(1)));
    const before = tf.memory().numTensors;
    const gathered = tf.tidy(() => expertFfn(x, chosen, weights, swigluExperts(experts)));
    const dense = tf.tidy(() => {
      const mask = tf.tensor2d(chosen.flatMap((row, t) => Array.from({ length: E }, (_, e) => (row.includes(e) ? weights[t][row.indexOf(e)] : 0))), [T, E]);
      const outs = experts.map((w, e) => tf.mul(swigluMlp(w, x), tf.slice(mask, [0, e], [T, 1])));
      return tf.addN(outs);
    });
    const [a, b] = [await gathered.data(), await dense.data()];
    a.forEach((val, i) => assert.ok(Math.abs(val - b[i]) < 1e-5));
    gathered.dispose();
    dense.dispose();
    assert.equal(tf.memory().numTensors, before);
    // routing nobody: zeros
    const none = tf.tidy(() => expertFfn(x, chosen.map(() => []), weights.map(() => []), swigluExperts(experts)));
    assert.ok((await none.data()).every((val) => val === 0));
    none.dispose();
    tf.dispose([x, ...experts.flatMap((w) => [w.gateUp.wT, w.down.wT])]);
  });
});
