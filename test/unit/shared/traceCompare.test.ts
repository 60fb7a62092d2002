/**
 * The Compare view's pure logic: which tokens of two traces stand for the same text (alignment by
 * spans, across an edit, across two tokenizations, without spans), which of them changed experts
 * and in which layers, the per-layer JSD taken from traceDiff, and the guard the webview runs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoutingTrace } from '../../../src/shared/trace';
import { alignTokens, changedTokens, compareTraces, isTraceComparison, type CompareInput } from '../../../src/shared/traceCompare';
import { jsdBits, expertLoad } from '../../../src/shared/traceDiff';
import { fakeTrace } from '../extension/helpers/fakeTrace';

const side = (t: RoutingTrace, uri: string) => ({ uri, label: uri, model: t.model.name, tokens: t.tokens.length });
const input = (text: string, uri = 'file:///a', trace = fakeTrace(text)): CompareInput => ({ side: side(trace, uri), trace, text });

describe('alignTokens', () => {
  test('a trace with itself: every token pairs with itself, BOS included', () => {
    const t = fakeTrace('alpha beta gamma');
    assert.deepEqual(alignTokens(t.tokens, 'alpha beta gamma', t.tokens, 'alpha beta gamma'), t.tokens.map((_, i) => [i, i]));
  });

  test('an edit in the middle: head tokens pair by span, tail tokens by span from the end, the edited tokens not at all', () => {
    const A = 'alpha beta gamma delta';
    const B = 'alpha beta XX gamma delta';
    const a = fakeTrace(A);
    const b = fakeTrace(B);
    // a: BOS alpha ␠ beta ␠ gamma ␠ delta; b: BOS alpha ␠ beta ␠ XX ␠ gamma ␠ delta
    assert.deepEqual(alignTokens(a.tokens, A, b.tokens, B), [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 7], [6, 8], [7, 9]]);
  });

  test('an edit that changes a token in place: that token is not paired, the rest are', () => {
    const a = fakeTrace('one two three');
    const b = fakeTrace('one tw0 three');
    assert.deepEqual(alignTokens(a.tokens, 'one two three', b.tokens, 'one tw0 three'), [[0, 0], [1, 1], [2, 2], [4, 4], [5, 5]]);
  });

  test('one document, two tokenizations: only tokens with the same span (and text) pair', () => {
    const text = 'alpha beta gamma';
    const a = fakeTrace(text);
    const b = fakeTrace(text);
    // B's tokenizer merges "beta" and the following space.
    b.tokens.splice(3, 2, { id: 500, text: 'beta ', start: 6, end: 11 });
    assert.deepEqual(alignTokens(a.tokens, text, b.tokens, text), [[0, 0], [1, 1], [2, 2], [5, 4]]);
    // The same with both texts unknown (traces opened from files): spans are compared as they are.
    assert.deepEqual(alignTokens(a.tokens, null, b.tokens, null), [[0, 0], [1, 1], [2, 2], [5, 4]]);
  });

  test('a token with the same span but another id does not pair', () => {
    const a = fakeTrace('x y');
    const b = fakeTrace('x y');
    b.tokens[3] = { ...b.tokens[3]!, id: 999 };
    assert.deepEqual(alignTokens(a.tokens, 'x y', b.tokens, 'x y'), [[0, 0], [1, 1], [2, 2]]);
  });

  test('without spans (an imported npy): index for index when the lengths and the known ids agree, else nothing', () => {
    const a = fakeTrace('p q r');
    const bare = a.tokens.map(() => ({ id: null, text: null, start: null, end: null }));
    assert.deepEqual(alignTokens(a.tokens, 'p q r', bare, null), a.tokens.map((_, i) => [i, i]));
    assert.deepEqual(alignTokens(a.tokens, 'p q r', bare.slice(1), null), []);
    const ids = a.tokens.map((t, i) => ({ id: i === 2 ? 7777 : t.id, text: null, start: null, end: null }));
    assert.deepEqual(alignTokens(a.tokens, null, ids, null), []);
  });
});

describe('changedTokens and compareTraces', () => {
  test('a trace against itself: JSD exactly 0 in every layer, nothing changed', () => {
    const c = compareTraces(input('alpha beta gamma'), input('alpha beta gamma', 'file:///b'));
    assert.equal(c.error, null);
    assert.deepEqual(c.layers.map((l) => l.jsd), [0, 0]);
    assert.deepEqual(c.changed, []);
    assert.equal(c.paired, c.a.tokens);
  });

  test('one token re-routed in one layer: exactly that token and layer, with the experts each side alone chose', () => {
    const a = fakeTrace('alpha beta gamma');
    const b = fakeTrace('alpha beta gamma');
    const t = 3;
    const old = b.layers[1]!.experts![t]!;
    const E = a.model.numExperts;
    const replacement = [...Array(E).keys()].find((e) => !old.includes(e))!;
    b.layers[1]!.experts![t] = [old[0]!, replacement];
    const pairs = alignTokens(a.tokens, null, b.tokens, null);
    assert.deepEqual(changedTokens(a, b, pairs, [0, 1]), [{ a: t, b: t, text: 'beta', id: a.tokens[t]!.id, layers: [{ layer: 1, onlyA: [old[1]!], onlyB: [replacement] }] }]);
    const c = compareTraces({ side: side(a, 'file:///a'), trace: a, text: 'alpha beta gamma' }, { side: side(b, 'file:///b'), trace: b, text: 'alpha beta gamma' });
    assert.deepEqual(c.layers.map((l) => l.changedTokens), [0, 1]);
    // The JSD is traceDiff's, of the two load distributions.
    assert.equal(c.layers[1]!.jsd, jsdBits(expertLoad(a.layers[1]!.experts!, E), expertLoad(b.layers[1]!.experts!, E)));
    assert.ok(c.layers[1]!.jsd > 0);
  });

  test('the list is bounded; the rest is counted', () => {
    const a = fakeTrace('a b c d e f');
    const b = fakeTrace('a b c d e f');
    for (const l of b.layers) {
      l.experts = l.experts!.map((row) => row.map((e) => (e + 1) % 8));
    }
    const c = compareTraces({ side: side(a, 'x'), trace: a, text: null }, { side: side(b, 'y'), trace: b, text: null }, null, 3);
    assert.equal(c.changed.length, 3);
    assert.equal(c.moreChanged, a.tokens.length - 3);
  });

  test('different expert counts: one line saying why, no layers', () => {
    const c = compareTraces(input('a b'), { ...input('a b', 'file:///b', fakeTrace('a b', { experts: 4 })) });
    assert.match(c.error ?? '', /different numbers of experts \(8 vs 4\)/);
    assert.deepEqual(c.layers, []);
    assert.ok(isTraceComparison(c));
  });
});

describe('isTraceComparison', () => {
  const a = fakeTrace('alpha beta');
  const b = fakeTrace('alpha beta');
  b.layers[0]!.experts![1] = [7, 6];
  const good = compareTraces({ side: side(a, 'a'), trace: a, text: null }, { side: side(b, 'b'), trace: b, text: null }, 'one model after the other');
  test('accepts what compareTraces makes', () => {
    assert.equal(good.changed.length, 1);
    assert.ok(isTraceComparison(good));
  });
  test('rejects out-of-range experts, token indices past a side, non-finite JSD and junk', () => {
    const bad = (edit: (c: Record<string, unknown> & typeof good) => void): boolean => {
      const c = structuredClone(good) as Record<string, unknown> & typeof good;
      edit(c);
      return isTraceComparison(c);
    };
    assert.equal(bad((c) => (c.changed[0]!.layers[0]!.onlyB = [8])), false);
    assert.equal(bad((c) => (c.changed[0]!.a = c.a.tokens)), false);
    assert.equal(bad((c) => (c.layers[0]!.jsd = NaN)), false);
    assert.equal(bad((c) => (c.numExperts = 0)), false);
    assert.equal(bad((c) => ((c as Record<string, unknown>).changed = null)), false);
    assert.equal(isTraceComparison(null), false);
  });
});

describe('alignTokens: a code point split into several tokens', () => {
  test('tokens sharing one span pair in order (the n-th with the n-th)', () => {
    const a = fakeTrace('xy');
    // "é" split by byte-level BPE into two tokens with the same span [1, 2).
    const split = (t: RoutingTrace): void => {
      t.tokens.splice(1, 1, { id: 10, text: 'x', start: 0, end: 1 }, { id: 195, text: '�', start: 1, end: 2, partial: true }, { id: 182, text: '�', start: 1, end: 2, partial: true });
    };
    split(a);
    const b = fakeTrace('xy');
    split(b);
    assert.deepEqual(alignTokens(a.tokens, 'xé', b.tokens, 'xé'), [[0, 0], [1, 1], [2, 2], [3, 3]]);
  });
});
