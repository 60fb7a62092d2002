// The per-token facts every surface shows, against values worked out by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entropy, softmax } from '../../../src/shared/routerMath';
import { formatFigure, selectionMargin, tokenFacts } from '../../../src/shared/tokenFacts';
import type { LayerRouting } from '../../../src/shared/trace';

const close = (a: number | null, b: number, tol = 1e-12): void => assert.ok(a !== null && Math.abs(a - b) <= tol, `${a} ≠ ${b}`);
const softmaxModel = { gate: 'softmax-renormalized', numExperts: 4 } as const;
const sigmoidModel = { gate: 'sigmoid-scaled', numExperts: 3 } as const;

test('softmax family: margin = weakest chosen − best unchosen score; near miss, ranks, entropy, shared share', () => {
  const l: LayerRouting = {
    layer: 0,
    kind: 'moe',
    routerLogits: [[2, 1, 0.5, 0]],
    scores: [[0.5, 0.3, 0.15, 0.05]],
    experts: [[0, 1]],
    weights: [[0.625, 0.375]],
    sharedWeight: [1],
  };
  const f = tokenFacts(softmaxModel, l, 0)!;
  close(f.margin, 0.15);
  assert.equal(f.nearMiss, 2);
  assert.deepEqual(f.scoreRanks, [1, 2]);
  assert.equal(f.chosenAreTopScores, true);
  assert.equal(f.sharedShare, 0.5);
  close(f.entropy, entropy(softmax([2, 1, 0.5, 0])));
  close(f.normalizedEntropy, entropy(softmax([2, 1, 0.5, 0])) / Math.log(4));
  assert.equal(f.selectionBy, 'score');
});

test('softmax scores left out of a message are derived from the logits (same facts)', () => {
  const l: LayerRouting = { layer: 0, kind: 'moe', routerLogits: [[2, 1, 0.5, 0]], scores: null, experts: [[0, 1]], weights: [[0.6, 0.4]], sharedWeight: null };
  const f = tokenFacts(softmaxModel, l, 0)!;
  const p = softmax([2, 1, 0.5, 0]);
  close(f.margin, p[1]! - p[2]!);
  assert.equal(f.nearMiss, 2);
});

test('DeepSeek-V3: margin and near miss on score + bias among the allowed groups, not on the score', () => {
  // Scores 0.9, 0.2, 0.8; the bias lifts expert 1 to the top and expert 2's group was not allowed.
  // On the score alone this token read margin −0.7 to expert 0 (hover) or 0.1 to expert 2 (panel).
  const l: LayerRouting = {
    layer: 1,
    kind: 'moe',
    routerLogits: [[2.2, -1.39, 1.39]],
    scores: [[0.9, 0.2, 0.8]],
    selection: [[-0.1, 0.7, -Infinity]],
    experts: [[1]],
    weights: [[2.5]],
    sharedWeight: [1],
  };
  const f = tokenFacts(sigmoidModel, l, 0)!;
  close(f.margin, 0.8);
  assert.equal(f.nearMiss, 0);
  assert.deepEqual(f.scoreRanks, [3]);
  assert.equal(f.chosenAreTopScores, false);
  assert.equal(f.selectionBy, 'score + bias');
  close(f.entropy, entropy(softmax([2.2, -1.39, 1.39])), 1e-12);
});

test('no near miss when every unchosen expert was outside the allowed groups; NaN stays visible', () => {
  assert.deepEqual(selectionMargin([0.5, -Infinity, 0.4, -Infinity], [0, 2]), { margin: null, nearMiss: null });
  assert.deepEqual(selectionMargin([0.5, 0.1], []), { margin: null, nearMiss: null });
  assert.ok(Number.isNaN(selectionMargin([NaN, 0.1], [0]).margin));
});

test('sigmoid scores are not a distribution: no entropy without logits', () => {
  const l: LayerRouting = { layer: 0, kind: 'moe', routerLogits: null, scores: [[0.9, 0.2, 0.8]], experts: [[0]], weights: [[1]], sharedWeight: null };
  assert.equal(tokenFacts(sigmoidModel, l, 0)!.entropy, null);
  assert.equal(tokenFacts({ gate: 'softmax-raw', numExperts: 3 }, { ...l, scores: [[0.5, 0.25, 0.25]] }, 0)!.entropy, entropy([0.5, 0.25, 0.25]));
});

test('dense layers have no facts; figures print the same everywhere', () => {
  assert.equal(tokenFacts(softmaxModel, { layer: 0, kind: 'dense', routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null }, 0), null);
  assert.deepEqual([formatFigure(0.12345, 3), formatFigure(null, 3), formatFigure(NaN, 3), formatFigure(-Infinity, 3)], ['0.123', '–', '–', '−∞']);
});
