import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHoverMarkdown, displayTokenText, escapeMarkdown } from '../../../src/extension/pure/hoverText';
import { entropy, softmax, tokenRouting } from '../../../src/extension/pure/routingMath';
import type { LayerRouting } from '../../../src/shared/trace';
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
    assert.ok(md.includes(`| ${e0} | ${l1.weights![1][0].toFixed(3)} | ${l1.scores![1][e0].toFixed(3)} |`));
    assert.ok(md.includes(`| ${e1} | ${l1.weights![1][1].toFixed(3)} |`));
    assert.match(md, /shared expert \d+\.\d % of gate weight/);
    assert.match(md, /entropy \d\.\d\d nats \(\d+ % of max\)/);
    assert.match(md, /margin \d\.\d{3} to expert \d/);
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

describe('routing maths', () => {
  it('softmax and entropy', () => {
    const p = softmax([0, 0, 0, 0]);
    assert.deepEqual(p, [0.25, 0.25, 0.25, 0.25]);
    assert.ok(Math.abs(entropy(p) - Math.log(4)) < 1e-12);
    assert.equal(entropy([1, 0, 0]), 0);
    assert.ok(Math.abs(softmax([1000, 0])[0] - 1) < 1e-12, 'stable for large logits');
  });

  it('margin, near miss and shared share', () => {
    const layer: LayerRouting = {
      layer: 0,
      kind: 'moe',
      routerLogits: [[2, 1, 0.5, 0]],
      scores: [[0.5, 0.3, 0.15, 0.05]],
      experts: [[0, 1]],
      weights: [[0.625, 0.375]],
      sharedWeight: [1],
    };
    const r = tokenRouting(layer, 0, true)!;
    assert.ok(Math.abs(r.margin! - 0.15) < 1e-12);
    assert.equal(r.nearMiss, 2);
    assert.equal(r.sharedShare, 0.5);
    assert.ok(Math.abs(r.entropy! - entropy(softmax([2, 1, 0.5, 0]))) < 1e-12);
    assert.ok(r.normalizedEntropy! > 0 && r.normalizedEntropy! < 1);
  });

  it('a selection bias can make the margin negative (DeepSeek-V3)', () => {
    const layer: LayerRouting = {
      layer: 0,
      kind: 'moe',
      routerLogits: null,
      scores: [[0.9, 0.2, 0.8]],
      experts: [[1]],
      weights: [[0.2]],
      sharedWeight: null,
    };
    const r = tokenRouting(layer, 0, false)!;
    assert.ok(Math.abs(r.margin! - (0.2 - 0.9)) < 1e-12);
    assert.equal(r.nearMiss, 0);
    assert.equal(r.entropy, null, 'sigmoid scores are not a distribution');
  });
});
