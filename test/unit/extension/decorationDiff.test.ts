/** planDecorations: only the decoration types whose ranges changed are handed over again. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planDecorations, rangesKey, type OffsetRanges } from '../../../src/extension/pure/decorationDiff';

const wanted = (entries: [string, OffsetRanges][]): Map<string, OffsetRanges> => new Map(entries);

describe('planDecorations', () => {
  it('sets every bucket the first time', () => {
    const plan = planDecorations(new Map(), wanted([['e0', [[0, 3]]], ['e1', [[3, 5], [7, 9]]]]));
    assert.deepEqual(plan.set, ['e0', 'e1']);
    assert.deepEqual(plan.clear, []);
  });

  it('after an edit at the end, leaves the buckets of the unchanged tokens alone', () => {
    const first = planDecorations(new Map(), wanted([['e0', [[0, 3], [10, 12]]], ['e1', [[3, 5]]], ['e2', [[20, 24]]]]));
    // The last token's routing changed (e2 → e1); tokens before it route as before.
    const plan = planDecorations(first.shown, wanted([['e0', [[0, 3], [10, 12]]], ['e1', [[3, 5], [20, 25]]]]));
    assert.deepEqual(plan.set, ['e1']);
    assert.deepEqual(plan.clear, ['e2']);
    assert.deepEqual([...plan.shown.keys()], ['e0', 'e1']);
  });

  it('nothing changed: nothing is handed over', () => {
    const w = wanted([['e0', [[0, 3]]]]);
    const plan = planDecorations(planDecorations(new Map(), w).shown, w);
    assert.deepEqual(plan.set, []);
    assert.deepEqual(plan.clear, []);
  });

  it('a moved range counts as a change', () => {
    assert.notEqual(rangesKey([[0, 3]]), rangesKey([[0, 4]]));
    const plan = planDecorations(new Map([['e0', rangesKey([[0, 3]])]]), wanted([['e0', [[1, 4]]]]));
    assert.deepEqual(plan.set, ['e0']);
  });
});
