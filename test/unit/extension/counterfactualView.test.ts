// Counterfactuals in the panels, without VS Code or a browser: the typed choice → the engine's
// mode text, the protocol guards on both sides, the KL colour scale, the hover line, and laying
// window results back onto the analysed trace.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { counterfactualHoverLine, buildHoverMarkdown } from '../../../src/extension/pure/hoverText';
import { alignTokens, combineSweeps, mergePasses, windowSlices } from '../../../src/extension/pure/counterfactualWindows';
import { parseMode } from '../../../src/engine/counterfactualModes';
import { COUNTERFACTUAL_SCHEMA, type CounterfactualPassDoc, type CounterfactualSweepDoc } from '../../../src/shared/counterfactual';
import {
  EMPTY_COUNTERFACTUALS,
  choiceProblem,
  isCounterfactualState,
  modeText,
  type CounterfactualChoice,
  type CounterfactualOverlay,
} from '../../../src/shared/counterfactualView';
import { isHostToWebview, isWebviewToHost } from '../../../src/shared/webviewProtocol';
import { KL_COLORS, KL_STEPS, klColors, klLegend, klStep } from '../../../src/webview/klScale';
import { fakeTrace } from './helpers/fakeTrace';

const CHOICES: [CounterfactualChoice, string | null][] = [
  [{ kind: 'model' }, null],
  [{ kind: 'topk', k: 1 }, 'topk:1'],
  [{ kind: 'expert-choice', factor: 1.5 }, 'expert-choice:1.5'],
  [{ kind: 'capacity', factor: 0.25 }, 'capacity:0.25'],
  [{ kind: 'dense' }, 'dense'],
  [{ kind: 'ablate', layer: 1, expert: 3 }, 'ablate:1:3'],
  [{ kind: 'force', layer: 0, expert: 7 }, 'force:0:7'],
  [{ kind: 'sweep-k' }, 'sweep-k'],
  [{ kind: 'ablate-each', layer: 1 }, 'ablate-each:1'],
];

function overlay(T: number, patch: Partial<CounterfactualOverlay> = {}): CounterfactualOverlay {
  return {
    choice: { kind: 'expert-choice', factor: 1 },
    mode: 'expert-choice:1',
    causal: false,
    kl: Array.from({ length: T }, (_, t) => t * 0.01),
    surprisalDelta: Array.from({ length: T }, (_, t) => (t + 1 < T ? 0.5 - t * 0.1 : null)),
    layers: [{ layer: 0, experts: Array.from({ length: T }, (_, t) => (t === 2 ? [] : [t % 8, (t + 1) % 8])), weights: Array.from({ length: T }, (_, t) => (t === 2 ? [] : [0.6, 0.4])), dropped: null }],
    windows: 1,
    ...patch,
  };
}

describe('counterfactual choices', () => {
  it('each choice becomes mode text the engine grammar accepts', () => {
    for (const [choice, text] of CHOICES) {
      assert.equal(modeText(choice), text, choice.kind);
      if (text !== null) {
        assert.doesNotThrow(() => parseMode(text), text);
      }
    }
  });

  it('choices are checked against the model: k, factor, layer and expert ranges', () => {
    const m = { numExperts: 8, moeLayers: [1, 3] };
    assert.equal(choiceProblem({ kind: 'topk', k: 8 }, m), null);
    assert.match(choiceProblem({ kind: 'topk', k: 9 }, m)!, /1…8/);
    assert.match(choiceProblem({ kind: 'ablate', layer: 2, expert: 0 }, m)!, /not an MoE layer/);
    assert.match(choiceProblem({ kind: 'force', layer: 3, expert: 8 }, m)!, /does not exist/);
    assert.match(choiceProblem({ kind: 'ablate-each', layer: 0 }, m)!, /not an MoE layer/);
    assert.match(choiceProblem({ kind: 'capacity', factor: 9 }, m)!, /capacity factor/);
    assert.equal(choiceProblem({ kind: 'dense' }, m), null);
  });
});

describe('counterfactual messages', () => {
  const uri = 'file:///a.md';
  it('the host accepts the panels’ run and cancel commands only with a well-formed choice', () => {
    for (const [choice] of CHOICES) {
      assert.ok(isWebviewToHost({ method: 'counterfactual/run', params: { uri, choice } }), choice.kind);
    }
    assert.ok(isWebviewToHost({ method: 'counterfactual/cancel', params: { uri } }));
    const bad: unknown[] = [
      { kind: 'topk', k: 0 },
      { kind: 'topk', k: 1.5 },
      { kind: 'topk' },
      { kind: 'expert-choice', factor: 0 },
      { kind: 'capacity', factor: Number.POSITIVE_INFINITY },
      { kind: 'capacity', factor: '1' },
      { kind: 'ablate', layer: -1, expert: 0 },
      { kind: 'force', layer: 0 },
      { kind: 'ablate-each' },
      { kind: 'sweep' },
      { kind: '__proto__' },
      null,
      'topk:1',
    ];
    for (const choice of bad) {
      assert.equal(isWebviewToHost({ method: 'counterfactual/run', params: { uri, choice } }), false, JSON.stringify(choice));
    }
    assert.equal(isWebviewToHost({ method: 'counterfactual/run', params: { uri: 3, choice: { kind: 'dense' } } }), false);
    assert.equal(isWebviewToHost({ method: 'counterfactual/cancel', params: {} }), false);
  });

  it('the panels accept a well-formed state and progress, and refuse corrupt ones', () => {
    const ok = { ...EMPTY_COUNTERFACTUALS, active: overlay(5) };
    assert.ok(isHostToWebview({ method: 'counterfactual/didChange', params: { uri, counterfactual: ok } }));
    assert.ok(isHostToWebview({ method: 'counterfactual/didChange', params: { uri, counterfactual: EMPTY_COUNTERFACTUALS } }));
    const sweep = { kind: 'sweep-k', layer: null, windows: 1, rows: [{ mode: 'topk:1', meanKl: 0.1, maxKl: 0.5, meanSurprisalDelta: null }] };
    assert.ok(isCounterfactualState({ ...EMPTY_COUNTERFACTUALS, kSweep: sweep, running: { choice: { kind: 'sweep-k' }, fraction: 0.5, message: 'pass 3/8' }, note: 'x' }));
    assert.ok(isHostToWebview({ method: 'counterfactual/didProgress', params: { uri, fraction: 1, message: 'done' } }));
    const bad: unknown[] = [
      { ...ok, active: overlay(5, { kl: [0, 0, 0, 0, -0.1] }) },
      { ...ok, active: overlay(5, { kl: [0, 0, 0, 0, Number.NaN] }) },
      { ...ok, active: overlay(5, { kl: [0, 0, 0, 0] }) },
      { ...ok, active: { ...overlay(5), layers: [{ ...overlay(5).layers[0]!, experts: [[0], [1]] }] } },
      { ...ok, active: { ...overlay(5), layers: [{ ...overlay(5).layers[0]!, weights: [[Number.POSITIVE_INFINITY], null, null, null, null] }] } },
      { ...ok, kSweep: { ...sweep, rows: [{ mode: 'topk:1', meanKl: null, maxKl: 0.5, meanSurprisalDelta: null }] } },
      { ...ok, ablateEach: { ...sweep, kind: 'other' } },
      { ...ok, running: { choice: { kind: 'dense' }, fraction: 1.5, message: '' } },
      { ...ok, note: 1 },
      { ...ok, active: 'x' },
    ];
    for (const c of bad) {
      assert.equal(isHostToWebview({ method: 'counterfactual/didChange', params: { uri, counterfactual: c } }), false, JSON.stringify(c).slice(0, 120));
    }
    assert.equal(isHostToWebview({ method: 'counterfactual/didProgress', params: { uri, fraction: -0.01, message: '' } }), false);
    assert.equal(isHostToWebview({ method: 'counterfactual/didProgress', params: { uri, fraction: 0.5, message: 'x'.repeat(1001) } }), false);
  });
});

describe('KL colour scale', () => {
  it('is sequential: steps rise, colours darken, and nothing below the first step is coloured', () => {
    assert.equal(KL_STEPS.length, KL_COLORS.length);
    KL_STEPS.slice(1).forEach((s, i) => assert.ok(s > KL_STEPS[i]!));
    // Luminance falls step by step (YlOrRd): a larger effect always looks stronger.
    const lum = KL_COLORS.map((c) => {
      const n = parseInt(c.slice(1), 16);
      return 0.2126 * (n >> 16) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255);
    });
    lum.slice(1).forEach((l, i) => assert.ok(l < lum[i]!, `step ${i + 1} darker than step ${i}`));
    assert.equal(klColors(0), null);
    assert.equal(klColors(0.000999), null);
    assert.equal(klColors(null), null);
    assert.equal(klColors(Number.NaN), null);
    assert.equal(klStep(0.001), 0);
    assert.equal(klStep(0.0099), 0);
    assert.equal(klStep(0.01), 1);
    assert.equal(klStep(2.9), 5);
    assert.equal(klStep(1e6), 6);
    assert.deepEqual(klColors(0.5), { background: KL_COLORS[4], text: '#000000' });
    assert.deepEqual(klColors(5), { background: KL_COLORS[6], text: '#ffffff' });
    assert.deepEqual(klLegend().map((l) => l.label), ['0.001–0.01', '0.01–0.03', '0.03–0.1', '0.1–0.3', '0.3–1', '1–3', '≥ 3']);
  });
});

describe('hover line', () => {
  it('gives KL, Δsurprisal and the experts that served the token in the selected layer', () => {
    const cf = overlay(6);
    assert.equal(
      counterfactualHoverLine(cf, 3, 0),
      'Counterfactual **expert\\-choice\\:1** (not causal: expert choice ranks the whole window): KL 0.0300 nats · Δsurprisal +0.200 nats · L0 served by 3 0.60, 4 0.40',
    );
    assert.match(counterfactualHoverLine(cf, 2, 0), /L0 served by none \(residual and shared expert only\)/);
    assert.match(counterfactualHoverLine(cf, 5, 0), /Δsurprisal – \(last token\)/);
    assert.match(counterfactualHoverLine({ ...cf, kl: [null, 0, 0, 0, 0, 0] }, 0, 0), /not in the passes' windows/);
    const capacity = overlay(6, { mode: 'capacity:1', causal: true });
    capacity.layers[0]!.dropped = [[], [], [], [5, 6], [], []];
    assert.match(counterfactualHoverLine(capacity, 3, 0), /^Counterfactual \*\*capacity\\:1\*\*: .* · dropped 5, 6$/);
  });

  it('is in the hover only while a counterfactual is active', () => {
    const trace = fakeTrace('a b c');
    const cf = overlay(trace.tokens.length);
    assert.doesNotMatch(buildHoverMarkdown(trace, 1, 0), /Counterfactual/);
    assert.doesNotMatch(buildHoverMarkdown(trace, 1, 0, { counterfactual: null }), /Counterfactual/);
    const md = buildHoverMarkdown(trace, 1, 0, { counterfactual: cf });
    const lines = md.split('\n');
    assert.equal(lines.filter((l) => l.startsWith('Counterfactual')).length, 1);
    assert.ok(lines.findIndex((l) => l.startsWith('Counterfactual')) < lines.findIndex((l) => l.startsWith('**Layer')), 'above the layer table, seen without scrolling');
  });
});

describe('windows', () => {
  const pass = (T: number, kl: number[], layers = 1): CounterfactualPassDoc => ({
    schema: COUNTERFACTUAL_SCHEMA,
    mode: 'topk:1',
    causal: true,
    kl,
    surprisalDelta: kl.map((x, j) => (j + 1 < T ? -x : null)),
    layers: Array.from({ length: layers }, (_, l) => ({ layer: l, experts: kl.map((_, j) => [j % 4]), weights: kl.map(() => [1]) })),
  });

  it('one window: the whole analysed text; the engine tokens map onto the trace one to one', () => {
    const text = 'alpha beta gamma';
    const trace = fakeTrace(text);
    const [slice, ...rest] = windowSlices(trace, text);
    assert.equal(rest.length, 0);
    assert.equal(slice!.text, text);
    assert.deepEqual(alignTokens(trace, slice!, trace.tokens), trace.tokens.map((_, t) => t));
  });

  it('several windows: each window’s text, its tokens found by span, overlaps taken from the earlier window', () => {
    const text = 'aa bb cc dd ee ff';
    const trace = fakeTrace(text); // <s>, aa, ' ', bb, ' ', cc, …: 12 tokens
    const T = trace.tokens.length;
    trace.windows = [
      { start: 0, end: 7, overlap: 0 },
      { start: 5, end: T, overlap: 2 },
    ];
    const slices = windowSlices(trace, text);
    assert.deepEqual(
      slices.map((s) => [s.text, s.offset]),
      [
        ['aa bb cc ', 0],
        ['cc dd ee ff', 6],
      ],
    );
    // The second window re-tokenised on its own: a BOS, then its words at spans relative to the slice.
    const second = [{ id: 1, text: '<s>', start: null, end: null }, ...trace.tokens.slice(5).map((t) => ({ ...t, start: t.start! - 6, end: t.end! - 6 }))];
    const toTrace = alignTokens(trace, slices[1]!, second);
    assert.deepEqual(toTrace, [-1, ...trace.tokens.slice(5).map((_, j) => 5 + j)]);
    const first = alignTokens(trace, slices[0]!, trace.tokens.slice(0, 7));
    assert.deepEqual(first, [0, 1, 2, 3, 4, 5, 6]);
    const merged = mergePasses(T, { kind: 'topk', k: 1 }, [
      { doc: pass(7, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), toTrace: first },
      { doc: pass(second.length, second.map(() => 9)), toTrace },
    ]);
    assert.deepEqual(merged.kl, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, ...new Array(T - 7).fill(9)]);
    assert.equal(merged.windows, 2);
    assert.equal(merged.layers[0]!.experts.length, T);
    assert.ok(merged.layers[0]!.experts.every((e) => e !== null), 'every token covered');
  });

  it('sweeps combine over windows: token-weighted means, the max of maxima', () => {
    const sweep = (rows: [number, number, number | null][]): CounterfactualSweepDoc => ({
      schema: COUNTERFACTUAL_SCHEMA,
      mode: 'sweep-k',
      causal: true,
      passes: rows.map(([meanKl, maxKl, d], i) => ({ mode: `topk:${i + 1}`, meanKl, maxKl, meanSurprisalDelta: d })),
    });
    const s = combineSweeps('sweep-k', null, [
      { doc: sweep([[0.2, 1, 0.1], [0, 0, 0]]), tokens: 10 },
      { doc: sweep([[0.5, 3, null], [0, 0, 0]]), tokens: 30 },
    ]);
    assert.equal(s.rows.length, 2);
    assert.ok(Math.abs(s.rows[0]!.meanKl - (0.2 * 10 + 0.5 * 30) / 40) < 1e-12);
    assert.equal(s.rows[0]!.maxKl, 3);
    assert.ok(Math.abs(s.rows[0]!.meanSurprisalDelta! - 0.1) < 1e-12, 'a window without Δsurprisal does not count');
    assert.deepEqual(s.rows[1], { mode: 'topk:2', meanKl: 0, maxKl: 0, meanSurprisalDelta: 0 });
  });
});
