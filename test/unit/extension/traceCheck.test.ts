// The one trace validator: what it refuses, that it refuses before allocating, and that the host
// (unpackTrace), the webview (isState) and file readers (readTraceJson) answer alike.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingTrace } from '../../../src/shared/trace';
import { checkTrace, TraceError, traceProblem } from '../../../src/shared/traceCheck';
import { readTraceJson, restoreScores, slimTrace } from '../../../src/shared/traceCodec';
import { packTrace, unpackTrace } from '../../../src/shared/tracePacking';
import { isState, type State } from '../../../src/shared/webviewProtocol';
import { fakeTrace } from './helpers/fakeTrace';

const noYield = (): Promise<void> => Promise.resolve();

/** Mutations a hostile or corrupt source could make, each with the message it must get. */
const HOSTILE: [string, (t: RoutingTrace) => void, RegExp][] = [
  ['numExperts 1e9', (t) => (t.model.numExperts = 1e9), /model\.numExperts must be an integer in 1\.\.4096, got 1000000000/],
  ['topK past E', (t) => (t.model.topK = 9), /model\.topK must be an integer in 1\.\.8/],
  ['unknown gate', (t) => ((t.model as { gate: string }).gate = 'magic'), /model\.gate must be one of/],
  ['expert id past E', (t) => (t.layers[0]!.experts![1]![0] = 8), /layer 0: experts\[1\]\[0\] must be an integer in 0\.\.7, got 8/],
  ['short score row', (t) => t.layers[1]!.scores![2]!.pop(), /layer 1: scores\[2\] must be an array of 8 numbers/],
  ['logits row count', (t) => t.layers[1]!.routerLogits!.pop(), /layer 1: routerLogits must have 6 rows/],
  ['selection shape', (t) => (t.layers[0]!.selection = [[1]]), /layer 0: selection must have 6 rows/],
  ['weights not numbers', (t) => ((t.layers[0]!.weights![0] as unknown[])[0] = '1'), /layer 0: weights\[0\]\[0\] is not a number/],
  ['surprisal length', (t) => t.surprisal.pop(), /surprisal must be an array of 6 numbers/],
  ['span backwards', (t) => Object.assign(t.tokens[1]!, { start: 2, end: 1 }), /token 1 has a bad span/],
  ['window past the end', (t) => (t.windows = [{ start: 0, end: 9, overlap: 0 }]), /window 0: end must be an integer in 0\.\.6, got 9/],
  ['default layer not a MoE layer', (t) => (t.model.defaultLayer = 5), /model\.defaultLayer must be one of model\.moeLayers/],
  ['more layers than the model', (t) => t.layers.push(t.layers[0]!, t.layers[0]!), /layers must be an array of at most 2 layers/],
];

const state = (trace: RoutingTrace): State => ({ webviewId: 'routing', uri: 'file:///a', label: 'a', text: 'a b c', trace, layer: 0, selectedToken: null, highlight: null, colorScheme: 'categorical' });

describe('the trace validator', () => {
  it('accepts a real-shaped trace, with and without DeepSeek-style selection rows', () => {
    const t = fakeTrace('a b c');
    assert.equal(traceProblem(t), null);
    t.layers[0]!.selection = t.layers[0]!.scores!.map((row) => row.map((x, e) => (e % 2 ? -Infinity : x + 0.1)));
    assert.equal(traceProblem(structuredClone(t)), null);
  });

  for (const [name, mutate, message] of HOSTILE) {
    it(`refuses ${name} with one line, on every path`, async () => {
      const t = fakeTrace('a b c');
      mutate(t);
      assert.throws(() => checkTrace(structuredClone(t)), (err: Error) => err instanceof TraceError && message.test(err.message) && !err.message.includes('\n'));
      assert.throws(() => readTraceJson(JSON.stringify(t)), message, 'file reader');
      assert.equal(isState(state(structuredClone(t))), false, 'webview');
      if (name !== 'weights not numbers' && name !== 'unknown gate' && name !== 'numExperts 1e9') {
        // (the packed form carries typed arrays, where those three cannot be written)
        await assert.rejects(unpackTrace(packTrace(t), noYield), message, 'host');
      }
    });
  }

  it('turns the JSON spellings of non-finite numbers back into numbers, only where numbers belong', () => {
    const t = fakeTrace('a b');
    const json = JSON.parse(JSON.stringify(t)) as Record<string, unknown> & RoutingTrace;
    (json.surprisal as unknown[])[0] = 'NaN';
    (json.layers[0]!.weights![0] as unknown[])[1] = '-Infinity';
    json.tokens[1]!.text = 'NaN';
    const back = checkTrace(json);
    assert.ok(Number.isNaN(back.surprisal[0]));
    assert.equal(back.layers[0]!.weights![0]![1], -Infinity);
    assert.equal(back.tokens[1]!.text, 'NaN', 'token text stays text');
  });

  it('refuses truncated JSON instead of reading it some other way, and quotes none of it', () => {
    const text = JSON.stringify(fakeTrace('\u001b[31m a b'));
    assert.throws(() => readTraceJson(text.slice(0, 100)), (err: Error) => err instanceof TraceError && err.message === 'trace: not valid JSON (truncated or corrupt)');
  });

  it('checks a packed header against the token count before allocating from it', async () => {
    const packed = packTrace(fakeTrace('a b'));
    // 10⁹ rows of 0 columns would ask for a 4 GB offsets array.
    packed.layers[0]!.experts = { dtype: 'i32', rows: 1e9, cols: 0, data: '' };
    await assert.rejects(unpackTrace(packed, noYield), /packed trace: packed matrix: bad header \(rows must be an integer in 0\.\.4\)/);
  });

  it('slimming then restoring gives back the scores of softmax gates; other gates keep theirs, and DeepSeek its selection', () => {
    const t = fakeTrace('a b c');
    const slim = slimTrace(t);
    assert.equal(slim.layers[0]!.scores, null);
    assert.equal(traceProblem(slim), null);
    restoreScores(slim);
    slim.layers[0]!.scores!.forEach((row, i) => row.forEach((x, j) => assert.ok(Math.abs(x - t.layers[0]!.scores![i]![j]!) < 1e-15)));
    const ds = fakeTrace('a b c', { gate: 'sigmoid-scaled' });
    ds.layers[0]!.selection = ds.layers[0]!.scores;
    assert.ok(slimTrace(ds).layers[0]!.scores);
    assert.ok(slimTrace(ds).layers[0]!.selection);
  });
});
