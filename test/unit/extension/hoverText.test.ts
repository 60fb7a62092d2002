import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHoverMarkdown, displayTokenText, escapeMarkdown } from '../../../src/extension/pure/hoverText';
import type { LayerRouting } from '../../../src/shared/trace';
import { tokenFacts } from '../../../src/shared/tokenFacts';
import { fakeTrace } from './helpers/fakeTrace';

/** Markdown with every backslash-escaped character removed: what could still act as syntax. */
function unescapedSyntax(md: string): string {
  return md.replace(/\\[!-/:-@[-`{-~]/g, '');
}

describe('hover text', () => {
  it('escapes every ASCII punctuation character', () => {
    assert.equal(escapeMarkdown('[x](http://a.b) <b>*_`'), '\\[x\\]\\(http\\:\\/\\/a\\.b\\) \\<b\\>\\*\\_\\`');
  });

  it('shows whitespace and invisible characters by name', () => {
    assert.equal(displayTokenText(' a\n\t'), '·a↵⇥');
    assert.equal(displayTokenText('\u202Eevil'), '⟨U\\+202E⟩evil');
    assert.equal(displayTokenText('\u200B'), '⟨U\\+200B⟩');
    assert.equal(displayTokenText('é😀'), 'é😀');
  });

  const hostile = [
    '[click](command:workbench.action.reloadWindow)',
    '![img](https://evil.example/x.png)',
    '<img src=x onerror=alert(1)>',
    '</script><script>alert(1)</script>',
    'https://evil.example/path',
    'www.evil.example',
    'user@evil.example',
    '$(alert) **bold** _em_ `code` | cell |',
    '# heading',
    '\\',
  ];
  for (const text of hostile) {
    it(`keeps "${text.slice(0, 30)}" inert`, () => {
      const trace = fakeTrace(text);
      for (let t = 1; t < trace.tokens.length; t++) {
        const md = buildHoverMarkdown(trace, t, 0);
        const tokenLine = md.split('\n').find((l) => l.startsWith('Token: '))!;
        const inner = tokenLine.slice('Token: **'.length, -2);
        const bare = unescapedSyntax(inner);
        assert.doesNotMatch(bare, /[[\]()<>`*_!:/.@|#$\\]/, `unescaped syntax in ${inner}`);
        assert.doesNotMatch(unescapedSyntax(md), /<|\]\(|https?:|www\./i);
      }
    });
  }

  it('tells the whole routing story for the selected layer', () => {
    const trace = fakeTrace('Hello world', { shared: true });
    const md = buildHoverMarkdown(trace, 1, 1);
    const l1 = trace.layers[1];
    const [e0, e1] = l1.experts![1];
    assert.match(md, /token #1 of 4 \(numbered from 0, as in the trace\) · id \d+/);
    assert.match(md, /Token: \*\*Hello\*\*/);
    assert.match(md, /\*\*Layer 1\*\* · top-2 of 8 experts · weight = softmax, renormalised over the chosen k/);
    assert.ok(md.includes(`| ${e0} | ${l1.weights![1][0].toFixed(3)} | ${l1.scores![1][e0].toFixed(3)} | 1 |`));
    assert.ok(md.includes(`| ${e1} | ${l1.weights![1][1].toFixed(3)} | ${l1.scores![1][e1].toFixed(3)} | 2 |`));
    const f = tokenFacts(trace.model, l1, 1)!;
    assert.ok(md.includes(`shared expert ${(f.sharedShare! * 100).toFixed(1)}% of gate weight`));
    assert.ok(md.includes(`entropy ${f.entropy!.toFixed(3)} nats (${(f.normalizedEntropy! * 100).toFixed(1)}% of max)`));
    assert.ok(md.includes(`margin ${f.margin!.toFixed(3)} to near miss expert ${f.nearMiss} (by score)`));
    assert.match(md, /surprisal 1\.50 nats/);
    assert.match(md, /\*Softmax over all experts, top\\-k, renormalised to sum to 1\\\.\*/);
    assert.match(md, /Other layers:\n\nL0: \d 0\.\d\d, \d 0\.\d\d/);
    assert.doesNotMatch(md, /L1:/);
  });

  it('says when the selected layer is dense or absent, and for the last token', () => {
    const trace = fakeTrace('a b');
    const dense: LayerRouting = { layer: 5, kind: 'dense', routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null };
    trace.layers.push(dense);
    assert.match(buildHoverMarkdown(trace, 1, 5), /\*\*Layer 5\*\* is dense/);
    assert.match(buildHoverMarkdown(trace, 1, 9), /Layer 9 is not in this trace/);
    assert.match(buildHoverMarkdown(trace, trace.tokens.length - 1, 0), /surprisal – \(last token\)/);
  });
});

describe('hover on an imported trace without weights or ids', () => {
  it('says the weights are missing and shows the experts, instead of failing', () => {
    const trace = fakeTrace('a b');
    for (const l of trace.layers) {
      l.weights = null;
      l.scores = null;
      l.routerLogits = null;
    }
    trace.tokens.forEach((t) => (t.id = null));
    const layer = trace.layers.find((l) => l.kind === 'moe')!;
    const md = buildHoverMarkdown(trace, 0, layer.layer);
    assert.match(md, /gate weights, router scores and logits: not in this trace/);
    assert.match(md, /id not in this trace/);
    assert.match(md, new RegExp(`\\| ${layer.experts![0][0]} \\| – \\|`));
    const f = tokenFacts(trace.model, layer, 0)!;
    assert.deepEqual(f.weights, layer.experts![0].map(() => null));
    assert.equal(f.weightSum, null);
  });

  // Each optional part alone, on a model with a shared expert: the hover names exactly what is missing.
  const cases: { name: string; strip: (t: ReturnType<typeof fakeTrace>) => void; says: RegExp; notSays?: RegExp }[] = [
    { name: 'weights', strip: (t) => t.layers.forEach((l) => (l.weights = null)), says: /\*gate weights: not in this trace/ },
    { name: 'scores and logits', strip: (t) => t.layers.forEach((l) => ((l.scores = null), (l.routerLogits = null))), says: /\*router scores and logits: not in this trace/, notSays: /entropy|margin/ },
    { name: 'router logits only (scores still there)', strip: (t) => t.layers.forEach((l) => (l.routerLogits = null)), says: /entropy [\d.]+ nats/, notSays: /not in this trace/ },
    { name: 'shared weight', strip: (t) => t.layers.forEach((l) => (l.sharedWeight = null)), says: /\*shared-expert weight: not in this trace/, notSays: /shared expert [\d.]+%/ },
    { name: 'surprisal', strip: (t) => (t.surprisal = t.surprisal.map(() => null)), says: /surprisal not in this trace/ },
    { name: 'ids', strip: (t) => t.tokens.forEach((x) => (x.id = null)), says: /id not in this trace/ },
    { name: 'text and spans', strip: (t) => t.tokens.forEach((x) => ((x.text = null), (x.start = null), (x.end = null))), says: /Token: \*\*\\#\d+\*\*/ },
  ];
  for (const c of cases) {
    it(`a trace without ${c.name}`, () => {
      const trace = fakeTrace('alpha beta', { shared: true });
      c.strip(trace);
      const md = buildHoverMarkdown(trace, 1, 0);
      assert.match(md, c.says);
      if (c.notSays) {
        assert.doesNotMatch(md, c.notSays);
      }
      assert.doesNotMatch(md, /undefined|NaN|null/);
    });
  }
});
