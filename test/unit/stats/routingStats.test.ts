// Routing statistics against values worked out by hand (tolerance 1e-12 unless noted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coActivation,
  coefficientOfVariation,
  expertTopTokens,
  fiveNumber,
  maxOverMean,
  meanRouterProb,
  repeatedTokenConsistency,
  routerZLoss,
  sameExpertBaseline,
  sameExpertRate,
  slotShare,
  summarizeLayer,
  switchAuxLoss,
  tokenShare,
  transitions,
} from '../../../src/shared/routingStats';
import { entropy, logSumExp, softmax } from '../../../src/shared/routerMath';
import type { LayerRouting } from '../../../src/shared/trace';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b}`);

test('logSumExp and softmax of [0, ln 3] are ln 4 and [1/4, 3/4]', () => {
  close(logSumExp([0, Math.log(3)]), Math.log(4));
  const p = softmax([0, Math.log(3)]);
  close(p[0]!, 0.25);
  close(p[1]!, 0.75);
  // Large logits must not overflow.
  close(logSumExp([1000, 1000]), 1000 + Math.log(2));
});

test('entropy: uniform over 4 is ln 4, a point mass is 0', () => {
  close(entropy([0.25, 0.25, 0.25, 0.25]), Math.log(4));
  close(entropy([1, 0, 0]), 0);
});

// 4 tokens, E = 4, k = 2.
const experts = [
  [0, 1],
  [0, 2],
  [0, 1],
  [3, 1],
];

test('loads: slot share sums to 1, token share to k', () => {
  // counts: e0 3, e1 3, e2 1, e3 1 → 8 slots.
  assert.deepEqual(slotShare(experts, 4), [3 / 8, 3 / 8, 1 / 8, 1 / 8]);
  assert.deepEqual(tokenShare(experts, 4), [3 / 4, 3 / 4, 1 / 4, 1 / 4]);
});

test('CV and max/mean of the slot share', () => {
  const f = [3 / 8, 3 / 8, 1 / 8, 1 / 8];
  // mean ¼, deviations ±⅛ → σ = ⅛ → CV = ½; max/mean = (3/8)/(1/4) = 1.5.
  close(coefficientOfVariation(f), 0.5);
  close(maxOverMean(f), 1.5);
  close(coefficientOfVariation([1, 1, 1]), 0);
});

test('Switch aux loss E·Σ f·P is 1 when balanced and grows with imbalance', () => {
  close(switchAuxLoss([0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]), 1);
  // f = (3/8,3/8,1/8,1/8), P = (0.4,0.4,0.1,0.1): 4·(0.15+0.15+0.0125+0.0125) = 1.3.
  close(switchAuxLoss([3 / 8, 3 / 8, 1 / 8, 1 / 8], [0.4, 0.4, 0.1, 0.1]), 1.3);
});

test('mean router probability and z-loss', () => {
  const logits = [
    [0, Math.log(3)],
    [Math.log(3), 0],
  ];
  const p = meanRouterProb(logits, 2);
  close(p[0]!, 0.5);
  close(p[1]!, 0.5);
  // logsumexp = ln 4 for both rows → z-loss = (ln 4)².
  close(routerZLoss(logits), Math.log(4) ** 2);
});

test('co-activation counts pairs within a token, diagonal = tokens per expert', () => {
  const c = coActivation(experts, 4);
  assert.deepEqual(c, [
    [3, 2, 1, 0],
    [2, 3, 0, 1],
    [1, 0, 1, 0],
    [0, 1, 0, 1],
  ]);
});

test('transitions use top-1 in each layer', () => {
  const b = [[1], [1], [2], [3]];
  const m = transitions(experts, b, 4);
  assert.equal(m[0]![1], 2);
  assert.equal(m[0]![2], 1);
  assert.equal(m[3]![3], 1);
  assert.equal(m.flat().reduce((a, x) => a + x, 0), 4);
});

test('same-expert rate and its independent baseline', () => {
  // top-1: 0,0,0,3 → pairs (0,0) (0,0) (0,3) → 2/3.
  close(sameExpertRate(experts), 2 / 3);
  // q = (3/4, 0, 0, 1/4) → 9/16 + 1/16.
  close(sameExpertBaseline(experts, 4), 10 / 16);
});

test('five-number summary by linear interpolation', () => {
  assert.deepEqual(fiveNumber([4, 1, 3, 2, NaN]), [1, 1.75, 2.5, 3.25, 4]);
  assert.equal(fiveNumber([]), null);
});

test('vocabulary specialisation: top tokens per expert and repeated-token consistency', () => {
  const tokens = [
    { id: 7, text: 'a' },
    { id: 7, text: 'a' },
    { id: 9, text: 'b' },
    { id: 7, text: 'a' },
  ];
  const top = expertTopTokens(tokens, experts, 4, 2);
  assert.deepEqual(top[0], [
    { id: 7, text: 'a', count: 2 },
    { id: 9, text: 'b', count: 1 },
  ]);
  assert.deepEqual(top[3], [{ id: 7, text: 'a', count: 1 }]);
  const rep = repeatedTokenConsistency(tokens, experts, 4);
  // id 7 at t = 0, 1, 3 with top-1 0, 0, 3 → modal 0, consistency 2/3; id 9 occurs once.
  assert.equal(rep.length, 1);
  assert.equal(rep[0]!.modalExpert, 0);
  close(rep[0]!.consistency, 2 / 3);
});

test('summarizeLayer ties it together; dense layers give null', () => {
  const l: LayerRouting = {
    layer: 3,
    kind: 'moe',
    routerLogits: [
      [0, 0],
      [0, 0],
    ],
    scores: [
      [0.5, 0.5],
      [0.5, 0.5],
    ],
    experts: [[0], [1]],
    weights: [[1], [1]],
    sharedWeight: null,
  };
  const s = summarizeLayer(l, { numExperts: 2, gate: 'softmax-renormalized' })!;
  assert.deepEqual(s.slotShare, [0.5, 0.5]);
  close(s.auxLoss, 1);
  close(s.zLoss, Math.log(2) ** 2);
  close(s.cv, 0);
  close(s.entropy[0]!, Math.log(2));
  close(s.margin[1]!, 0);
  close(s.sameExpertRate, 0);
  assert.equal(summarizeLayer({ ...l, kind: 'dense', experts: null }, { numExperts: 2, gate: 'softmax-renormalized' }), null);
});
