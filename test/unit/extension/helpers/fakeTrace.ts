/**
 * Synthetic traces for tests that need no model: words and spaces become tokens, experts and
 * weights follow a fixed rule, so assertions can name exact values.
 */
import { TRACE_SCHEMA, type GateKind, type LayerRouting, type RoutingTrace } from '../../../../src/shared/trace';

export interface FakeTraceOptions {
  experts?: number;
  k?: number;
  layers?: number;
  gate?: GateKind;
  shared?: boolean;
}

export function softmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export function fakeTrace(text: string, opts: FakeTraceOptions = {}): RoutingTrace {
  const E = opts.experts ?? 8;
  const k = opts.k ?? 2;
  const L = opts.layers ?? 2;
  const tokens: RoutingTrace['tokens'] = [{ id: 1, text: '<s>', start: null, end: null }];
  for (const m of text.matchAll(/\s+|[^\s]+/g)) {
    const start = m.index ?? 0;
    let id = 0;
    for (const ch of m[0]) {
      id = (id * 31 + (ch.codePointAt(0) ?? 0)) % 997;
    }
    tokens.push({ id: id + 3, text: m[0], start, end: start + m[0].length });
  }
  const T = tokens.length;
  const layers: LayerRouting[] = [];
  for (let l = 0; l < L; l++) {
    const routerLogits = tokens.map((tok, t) => Array.from({ length: E }, (_, e) => Math.sin(((tok.id ?? 0) + 1) * (e + 1) * (l + 1) + t * 0.1) * 3));
    const scores = routerLogits.map(softmaxRow);
    const experts = scores.map((row) => row.map((s, e) => [s, e]).sort((a, b) => b[0] - a[0]).slice(0, k).map(([, e]) => e));
    const weights = experts.map((ex, t) => {
      const chosen = ex.map((e) => scores[t][e]);
      const sum = chosen.reduce((a, b) => a + b, 0);
      return chosen.map((w) => w / sum);
    });
    layers.push({
      layer: l,
      kind: 'moe',
      routerLogits,
      scores,
      experts,
      weights,
      sharedWeight: opts.shared ? tokens.map((_, t) => 0.25 + (t % 3) * 0.1) : null,
    });
  }
  return {
    schema: TRACE_SCHEMA,
    model: {
      path: 'fake',
      name: 'fake-moe',
      modelType: 'mixtral',
      numLayers: L,
      numExperts: E,
      topK: k,
      vocabSize: 1000,
      gate: opts.gate ?? 'softmax-renormalized',
      gateDescription: 'Softmax over all experts, top-k, renormalised to sum to 1.',
      hasSharedExpert: !!opts.shared,
      moeLayers: Array.from({ length: L }, (_, i) => i),
    },
    backend: 'fake',
    tokens,
    layers,
    surprisal: tokens.map((_, t) => (t === T - 1 ? null : 1 + (t % 5) * 0.5)),
  };
}
