// The webview protocol's validators and the trace's wire form, without a browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { softmax } from '../../src/shared/routerMath';
import type { RoutingTrace } from '../../src/shared/trace';
import { restoreScores, slimTrace } from '../../src/shared/traceCodec';
import { isHostToWebview, isPersistedState, isState, isWebviewToHost, type State } from '../../src/shared/webviewProtocol';

function tiny(): RoutingTrace {
  const logits = [
    [0, 1, 2],
    [2, 1, 0],
  ];
  return {
    schema: 'moe-lens.trace/1',
    model: { path: 'x', name: 'x', modelType: 'mixtral', numLayers: 1, numExperts: 3, topK: 1, vocabSize: 9, gate: 'softmax-renormalized', gateDescription: 'g', hasSharedExpert: false, moeLayers: [0] },
    backend: 'cpu',
    tokens: [
      { id: 1, text: 'a', start: 0, end: 1 },
      { id: 2, text: 'b', start: 1, end: 2 },
    ],
    layers: [{ layer: 0, kind: 'moe', routerLogits: logits, scores: logits.map((r) => softmax(r)), experts: [[2], [0]], weights: [[1], [1]], sharedWeight: null }],
    surprisal: [1.5, null],
    logits: [new Array(9).fill(0), new Array(9).fill(0)],
  };
}

const state = (trace: RoutingTrace | null): State => ({ webviewId: 'routing', uri: 'file:///a', label: 'a', text: 'ab', trace, layer: 0, selectedToken: 1, highlight: { layer: 0, expert: 2 }, colorScheme: 'categorical' });

test('a real-shaped state validates, and the slimmed trace round-trips its scores', () => {
  const t = tiny();
  assert.ok(isState(state(t)));
  const slim = slimTrace(t);
  assert.equal(slim.logits, undefined);
  assert.equal(slim.layers[0]!.scores, null);
  assert.ok(t.layers[0]!.scores, 'the host copy is left alone');
  assert.ok(isHostToWebview({ method: 'state/didChange', params: { state: state(slim) } }));
  restoreScores(slim);
  slim.layers[0]!.scores!.forEach((row, i) => row.forEach((x, j) => assert.ok(Math.abs(x - t.layers[0]!.scores![i]![j]!) < 1e-15)));
});

test('every colour scheme validates, also with no trace yet', () => {
  for (const scheme of ['categorical', 'spectrum', 'theme'] as const) {
    assert.ok(isState({ ...state(tiny()), colorScheme: scheme }), scheme);
    assert.ok(isState({ ...state(null), selectedToken: null, colorScheme: scheme }), `${scheme}, no trace`);
  }
  assert.equal(isState({ ...state(null), selectedToken: null, colorScheme: null }), false);
});

test('sigmoid gates keep their scores (not derivable from the logits alone)', () => {
  const t = tiny();
  t.model.gate = 'sigmoid-scaled';
  assert.ok(slimTrace(t).layers[0]!.scores);
});

test('states that do not fit their trace are rejected', () => {
  const bad: ((t: RoutingTrace, s: State) => void)[] = [
    (t) => (t.layers[0]!.experts![0]![0] = 3),
    (t) => t.layers[0]!.weights![1]!.push(0),
    (t) => (t.tokens[1]!.end = 5),
    (t) => t.surprisal.pop(),
    (_t, s) => (s.selectedToken = 2),
    (_t, s) => ((s as unknown as Record<string, unknown>).webviewId = 'x'),
    // The panels colour experts by the editor's scheme: it must be one the palette knows.
    (_t, s) => ((s as unknown as Record<string, unknown>).colorScheme = 'rainbow'),
    (_t, s) => delete (s as unknown as Record<string, unknown>).colorScheme,
  ];
  for (const f of bad) {
    const t = tiny();
    const s = state(t);
    f(t, s);
    assert.equal(isState(s), false, f.toString());
  }
});

test('host side accepts only well-formed commands and safe export names', () => {
  assert.ok(isWebviewToHost({ method: 'token/select', params: { uri: 'file:///a', tokenIndex: 3 } }));
  assert.ok(isWebviewToHost({ method: 'expert/highlight', params: { layer: 1, expert: null } }));
  assert.ok(isWebviewToHost({ method: 'export/save', params: { id: 1, fileName: 'load-heatmap.png', format: 'png', data: 'iVBO' } }));
  for (const m of [
    { method: 'token/select', params: { uri: 'file:///a', tokenIndex: -1 } },
    { method: 'layer/select', params: { layer: '1' } },
    { method: 'export/save', params: { id: 1, fileName: '../../.bashrc', format: 'csv', data: '' } },
    { method: 'export/save', params: { id: 1, fileName: 'a.csv', format: 'exe', data: '' } },
    { method: 'state/didChange', params: {} },
    null,
    'token/select',
  ]) {
    assert.equal(isWebviewToHost(m), false, JSON.stringify(m));
  }
  assert.ok(isPersistedState({ webviewId: 'dashboard', uri: null, layer: 2, selectedToken: null, scrollTop: 10, transitionLayers: [0, 2] }));
  assert.equal(isPersistedState({ webviewId: 'dashboard', uri: null, layer: 2, selectedToken: null, scrollTop: 10, transitionLayers: [0] }), false);
});
