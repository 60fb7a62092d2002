/**
 * causalAttention (attention.ts) over more than one query block: against a naive loop (causal,
 * sliding window, gpt-oss's sinks, GQA), and a tail run on cached keys/values gives the full run's
 * rows bit for bit, wherever the tail starts (inside a block, on a block edge, one token).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { QUERY_BLOCK, causalAttention, type KvSlot } from '../../../src/engine/attention';
import { initBackend, tf } from '../../../src/engine/backend';
import { sinkSoftmax } from '../../../src/engine/families/gpt_oss';
import { rng } from './babyModel';

before(async () => {
  await initBackend('wasm');
});

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

describe('causalAttention in query blocks', () => {
  const rand = rng(17);
  const T = 2 * QUERY_BLOCK + 45; // three blocks, the last one partial
  const [H, KV, hd] = [4, 2, 3];
  const mk = (heads: number): number[][][] => Array.from({ length: T }, () => Array.from({ length: heads }, () => Array.from({ length: hd }, () => rand(1))));
  const q = mk(H);
  const k = mk(KV);
  const v = mk(KV);
  const sinks = [0.5, -1, 2, 0];
  const variants: [string, number | null, number[] | null][] = [
    ['causal GQA', null, null],
    ['sliding window 40 (blocks see only their window)', 40, null],
    ['sinks + window 150', 150, sinks],
  ];
  for (const [name, window, sink] of variants) {
    // Made in the tests: the backend is ready only then.
    const options = () => ({ scale: 0.7, slidingWindow: window, headSoftmax: sink ? sinkSoftmax(tf.tensor1d(sink)) : undefined });
    test(`${name}: equals the naive loop`, async () => {
      const opts = options();
      const out = tf.tidy(() => causalAttention(tf.tensor3d(q), tf.tensor3d(k), tf.tensor3d(v), opts));
      const ours = (await out.array()) as number[][];
      out.dispose();
      const expected = naiveAttention(q, k, v, 0.7, window, sink);
      ours.forEach((row, t) => row.forEach((x, i) => assert.ok(Math.abs(x - expected[t][i]) < 1e-5, `${name} [${t}][${i}]: ${x} vs ${expected[t][i]}`)));
    });

    test(`${name}: a tail on cached keys/values gives the full run's rows exactly`, async () => {
      const opts = options();
      const full = tf.tidy(() => causalAttention(tf.tensor3d(q), tf.tensor3d(k), tf.tensor3d(v), opts));
      const fullRows = (await full.array()) as number[][];
      full.dispose();
      for (const P of [1, 60, QUERY_BLOCK, QUERY_BLOCK + 1, T - 1]) {
        const slot: KvSlot = { past: { k: tf.tensor3d(k.slice(0, P)), v: tf.tensor3d(v.slice(0, P)) }, next: null };
        const tail = tf.tidy(() => causalAttention(tf.tensor3d(q.slice(P)), tf.tensor3d(k.slice(P)), tf.tensor3d(v.slice(P)), opts, slot));
        assert.deepStrictEqual(await tail.array(), fullRows.slice(P), `tail from ${P}`);
        assert.ok(slot.next, 'the slot holds the extended keys/values');
        assert.deepStrictEqual(await slot.next.k.array(), (await tf.tensor3d(k).array()) as number[][][]);
        tf.dispose([tail, slot.past!.k, slot.past!.v, slot.next.k, slot.next.v]);
      }
    });
  }
});
