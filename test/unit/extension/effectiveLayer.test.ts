// One owner of the layer in focus: the store (editor colours, hover) and the panels pick the same
// layer for a trace whose first layers are dense (DeepSeek-V3's first_k_dense_replace).
import assert from 'node:assert/strict';
import { test } from 'node:test';
// First: from here on `vscode` is the fake (RoutingStore uses its EventEmitter).
import './helpers/fakeVscode';
import { RoutingStore } from '../../../src/extension/routingStore';
import { effectiveLayer } from '../../../src/shared/effectiveLayer';
import type { RoutingTrace } from '../../../src/shared/trace';
import { fakeTrace } from './helpers/fakeTrace';

/** Layers 0 and 1 dense, 2 and 3 MoE. */
function denseFirst(): RoutingTrace {
  const t = fakeTrace('one two three four', { layers: 4 });
  t.layers = t.layers.map((l) =>
    l.layer < 2 ? { ...l, kind: 'dense' as const, routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null } : l,
  );
  return t;
}

test('effectiveLayer: the chosen MoE layer, else the first MoE layer, else none', () => {
  const t = denseFirst();
  assert.equal(effectiveLayer(t, 3), 3);
  assert.equal(effectiveLayer(t, undefined), 2);
  assert.equal(effectiveLayer(t, -1), 2);
  assert.equal(effectiveLayer(t, 0), 2, 'a dense layer is not in focus');
  assert.equal(effectiveLayer(t, 9), 2, 'a layer the trace lacks');
  assert.equal(effectiveLayer({ layers: t.layers.slice(0, 2) }, 0), null);
});

test("effectiveLayer: with no choice, the model's default layer (the embedded model's most specialised one)", () => {
  const t = denseFirst();
  t.model.defaultLayer = 3;
  assert.equal(effectiveLayer(t, undefined), 3);
  assert.equal(effectiveLayer(t, -1), 3);
  assert.equal(effectiveLayer(t, 0), 3, 'a dense layer is not in focus');
  assert.equal(effectiveLayer(t, 2), 2, 'a MoE layer the user chose wins');
  t.model.defaultLayer = 1;
  assert.equal(effectiveLayer(t, undefined), 2, 'a default that is not a MoE layer: the first MoE layer');
});

test('the store starts on the default layer of the first analysis', () => {
  const store = new RoutingStore();
  const trace = denseFirst();
  trace.model.defaultLayer = 3;
  store.set({ uri: 'file:///a.md', version: 1, text: 'one two three four', languageId: 'markdown', trace });
  assert.equal(store.selectedLayer, 3);
  store.dispose();
});

test('the store moves off a dense layer to the layer the panels show', () => {
  const store = new RoutingStore();
  store.selectLayer(0);
  const trace = denseFirst();
  store.set({ uri: 'file:///a.md', version: 1, text: 'one two three four', languageId: 'markdown', trace });
  assert.equal(store.selectedLayer, effectiveLayer(trace, 0));
  assert.equal(store.selectedLayer, 2);
  store.selectLayer(3);
  store.set({ uri: 'file:///b.md', version: 1, text: 'one two three four', languageId: 'markdown', trace });
  assert.equal(store.selectedLayer, 3, 'a MoE layer the user chose stays');
  store.dispose();
});
