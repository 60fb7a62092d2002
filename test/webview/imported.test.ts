/// <reference lib="dom" />
// The built panels in Chromium, fed a real trace (the demo model's, with a shared expert) with one
// optional part removed at a time, as an imported trace lacks them (weights, scores and router
// logits, shared weight, ids, text and spans, surprisal), and with all of them removed (an npy
// import): every view draws, nothing throws, and each view that needs the missing part says
// "not in this trace". Screenshots of the npy case are written for a person to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RoutingTrace } from '../../src/shared/trace';
import { slimTrace } from '../../src/shared/traceCodec';
import type { State } from '../../src/shared/webviewProtocol';
import { hostPost, launch, open, posted, serve, skipReason, type OpenPanel, type PanelName, type Served } from './harness';
import { documentTrace } from './traces';

const ARTIFACTS = join(__dirname, 'artifacts');
const URI = 'moe-lens-trace:/work/imported.json';
const skip = skipReason();

type Strip = (t: RoutingTrace) => void;
const moe = (t: RoutingTrace) => t.layers.filter((l) => l.kind === 'moe');
const STRIPS: Record<string, Strip> = {
  weights: (t) => moe(t).forEach((l) => (l.weights = null)),
  'scores and router logits': (t) => moe(t).forEach((l) => ((l.scores = null), (l.routerLogits = null))),
  'shared weight': (t) => moe(t).forEach((l) => (l.sharedWeight = null)),
  ids: (t) => t.tokens.forEach((x) => (x.id = null)),
  'text and spans': (t) => t.tokens.forEach((x) => ((x.text = null), (x.start = null), (x.end = null))),
  surprisal: (t) => (t.surprisal = t.surprisal.map(() => null)),
};

/** What the routing panel's token detail and the dashboard must say for each missing part. */
const SAYS: Record<string, { detail: RegExp[]; dashboard: { card: string; says: RegExp }[]; note: RegExp }> = {
  weights: { detail: [/E\d+not in this trace/, /Σ weightsnot in this trace/, /Gate weights: not in this trace/], dashboard: [], note: /gate weights/ },
  'scores and router logits': {
    detail: [/entropynot in this trace/, /margin \(by score\)not in this trace/],
    dashboard: [
      { card: 'entropy-by-layer', says: /Router entropy: router scores and logits: not in this trace/ },
      { card: 'margin-by-layer', says: /not in this trace/ },
      { card: 'surprisal-vs-entropy', says: /router scores and logits: not in this trace/ },
      { card: 'expert-load', says: /P_i: router probabilities not in this trace/ },
      { card: 'balance-by-layer', says: /Aux loss and z-loss need the router logits: not in this trace/ },
    ],
    note: /router scores and logits/,
  },
  'shared weight': { detail: [/shared weightnot in this trace/], dashboard: [], note: /shared-expert weights/ },
  ids: {
    detail: [/idnot in this trace/],
    dashboard: [
      { card: 'routing-consistency', says: /token ids: not in this trace/ },
      { card: 'expert-top-tokens', says: /token ids: not in this trace/ },
    ],
    note: /token ids/,
  },
  'text and spans': { detail: [/spannot in this trace/], dashboard: [], note: /token spans/ },
  surprisal: { detail: [/surprisalnot in this trace/], dashboard: [{ card: 'surprisal-vs-entropy', says: /surprisal.*not in this trace/ }], note: /surprisal/ },
};

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('.empty[hidden]', { state: 'attached', timeout: 20_000 });
  await page.waitForSelector('body:not([data-complete="false"])', { timeout: 30_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}

describe('panels on a trace lacking a part (an imported trace)', { skip: skip ?? false }, () => {
  let server: Served;
  let browser: Browser;
  let base: { trace: RoutingTrace; text: string };
  const opened: OpenPanel[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    base = documentTrace();
    assert.ok(base.trace.model.hasSharedExpert, 'the demo model has a shared expert (so its weight can be missing)');
    server = await serve();
    browser = await launch();
  });

  after(async () => {
    for (const p of opened) {
      const errors = await p.page.evaluate(() => (globalThis as unknown as { __errors: string[] }).__errors).catch(() => []);
      assert.deepEqual(errors, [], 'page errors');
      assert.deepEqual(p.consoleErrors.filter((e) => !e.includes('favicon') && !/404/.test(e)), [], 'console errors');
      await p.page.context().close();
    }
    await browser?.close();
    await server?.close();
  });

  function stripped(parts: string[]): { state: (id: PanelName) => State; trace: RoutingTrace } {
    const trace = structuredClone(base.trace);
    parts.forEach((p) => STRIPS[p]!(trace));
    const noText = parts.includes('text and spans');
    return {
      trace,
      state: (webviewId) => ({ webviewId, uri: URI, label: 'imported.json', text: noText ? null : base.text, trace: slimTrace(trace), layer: trace.model.moeLayers[0]!, selectedToken: null, highlight: null, colorScheme: 'categorical' }),
    };
  }

  async function panel(name: PanelName, state: State, size = { width: 1280, height: 900 }): Promise<Page> {
    const p = await open(browser, server.origin, name, 'dark', size);
    opened.push(p);
    await hostPost(p.page, { method: 'state/didChange', params: { state } });
    await ready(p.page);
    return p.page;
  }

  for (const part of Object.keys(STRIPS)) {
    test(`without ${part}: routing panel draws every token, its detail says what is not in this trace`, async () => {
      const s = stripped([part]);
      const page = await panel('routing', s.state('routing'));
      const target = 3;
      await page.click(`.tok[data-i="${target}"]`);
      assert.deepEqual((await posted(page)).at(-1), { method: 'token/select', params: { uri: URI, tokenIndex: target } });
      const detail = (await page.textContent('.detail')) ?? '';
      for (const re of SAYS[part]!.detail) {
        assert.match(detail, re);
      }
      assert.doesNotMatch(detail, /undefined|NaN|null/);
      assert.match((await page.textContent('.legend:not(.cf-legend)')) ?? '', new RegExp(`Not in this trace: ${SAYS[part]!.note.source}`));
      // Every token is drawn and has a colour (no weights: its experts in equal shares).
      const looks = await page.$$eval('.tok[data-i]', (els) => els.map((e) => getComputedStyle(e).backgroundColor));
      assert.ok(looks.length >= s.trace.tokens.filter((t) => t.start !== null || part === 'text and spans').length - 1);
      assert.ok(looks.every((c) => c !== 'rgba(0, 0, 0, 0)'), 'every token coloured');
    });

    test(`without ${part}: dashboard draws, and the charts that need it say so`, async () => {
      const s = stripped([part]);
      const page = await panel('dashboard', s.state('dashboard'));
      assert.match((await page.textContent('.figures')) ?? '', new RegExp(`Not in this trace: ${SAYS[part]!.note.source}`));
      for (const { card, says } of SAYS[part]!.dashboard) {
        const text = await page.textContent(`[data-chart="${card}"] .card-sub, [data-table="${card}"] .card-sub`);
        assert.match(text ?? '', says, card);
      }
      // The load charts need only the experts: they always have data.
      for (const card of ['load-heatmap', 'expert-load', 'co-activation', 'transitions']) {
        assert.ok(Number(await page.getAttribute(`[data-chart="${card}"]`, 'data-items')) > 0, card);
      }
    });
  }

  test('an npy import (experts only): both panels draw, say what is missing; screenshots', async () => {
    const s = stripped(Object.keys(STRIPS));
    const r = await panel('routing', s.state('routing'), { width: 1280, height: 720 });
    await r.click('.tok[data-i="5"]');
    await r.screenshot({ path: join(ARTIFACTS, 'imported-npy-routing.png') });
    const detail = (await r.textContent('.detail')) ?? '';
    assert.match(detail, /idnot in this trace/);
    assert.match(detail, /Gate weights: not in this trace/);
    const d = await panel('dashboard', s.state('dashboard'), { width: 1280, height: 2400 });
    await d.screenshot({ path: join(ARTIFACTS, 'imported-npy-dashboard.png') });
    assert.match((await d.textContent('.figures')) ?? '', /Not in this trace: gate weights, router scores and logits, shared-expert weights, token ids, token spans, surprisal/);
  });
});
