/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The counterfactual views of the built panels in headless Chromium: the mode bar posts the right
// request, a result colours tokens by KL on the legend's scale and marks tokens no expert served
// (expert choice) and dropped assignments (capacity), the dashboard draws the k sweep and the
// "which experts matter" table (sortable), and malformed results are refused. Screenshots go to
// test/webview/artifacts/counterfactual-*.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { CounterfactualPassDoc, CounterfactualSweepDoc } from '../../src/shared/counterfactual';
import type { CounterfactualChoice, CounterfactualOverlay, CounterfactualState, CounterfactualSweep } from '../../src/shared/counterfactualView';
import type { RoutingTrace } from '../../src/shared/trace';
import { slimTrace } from '../../src/shared/traceCodec';
import type { State } from '../../src/shared/webviewProtocol';
import { combineSweeps, mergePasses } from '../../src/extension/pure/counterfactualWindows';
import { klColors } from '../../src/webview/klScale';
import { hostPost, launch, open, posted, serve, skipReason, type OpenPanel, type PanelName, type Served } from './harness';
import { documentTrace } from './traces';

const ARTIFACTS = join(__dirname, 'artifacts');
const URI = 'file:///work/greet.js';
const root = join(__dirname, '..', '..');
const skip = skipReason();

function stateFor(webviewId: PanelName, trace: RoutingTrace, text: string): State {
  return { webviewId, uri: URI, label: 'greet.js', text, trace: slimTrace(trace), layer: trace.model.moeLayers[0] ?? 0, selectedToken: null, highlight: null, colorScheme: 'categorical' };
}

const EMPTY: CounterfactualState = { active: null, kSweep: null, ablateEach: null, running: null, note: null };

/**
 * A pass over the trace: the engine CLI's own `counterfactual` on the demo model when it is there
 * (one window, so engine token j is trace token j), laid over the trace by the host's mergePasses;
 * otherwise a synthetic one with the same features (every KL step, tokens served by none, drops).
 */
function overlay(trace: RoutingTrace, text: string, choice: CounterfactualChoice, mode: string): { cf: CounterfactualOverlay; source: string } {
  const demo = join(root, 'models', 'demo');
  const cli = join(root, 'dist', 'cli.js');
  if (trace.model.name !== 'tiny-random-mixtral' && existsSync(cli) && existsSync(join(demo, 'model.safetensors'))) {
    const r = spawnSync(process.execPath, [cli, 'counterfactual', '--model', demo, '--text', text, '--mode', mode], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 120_000 });
    if (r.status === 0) {
      const doc = JSON.parse(r.stdout) as CounterfactualPassDoc;
      if (doc.kl.length === trace.tokens.length) {
        return { cf: mergePasses(trace.tokens.length, choice, [{ doc, toTrace: doc.kl.map((_, j) => j) }]), source: `engine CLI counterfactual --mode ${mode} on models/demo` };
      }
    }
  }
  const T = trace.tokens.length;
  const steps = [0, 0.002, 0.02, 0.05, 0.2, 0.5, 2, 5];
  const layers = trace.layers
    .filter((l) => l.kind === 'moe')
    .map((l) => ({
      layer: l.layer,
      experts: l.experts!.map((row, t) => (t % 5 === 2 ? [] : row)),
      weights: l.weights!.map((row, t) => (t % 5 === 2 ? [] : row)),
      dropped: mode.startsWith('capacity') ? l.experts!.map((row, t) => (t % 7 === 3 ? [row[0]!] : [])) : null,
    }));
  return {
    cf: { choice, mode, causal: !mode.startsWith('expert-choice'), kl: Array.from({ length: T }, (_, t) => steps[t % steps.length]!), surprisalDelta: Array.from({ length: T }, (_, t) => (t + 1 < T ? (t % 3) - 1 : null)), layers, windows: 1 },
    source: 'synthetic',
  };
}

/** A sweep from the engine CLI on the demo model (through the host's combineSweeps), else synthetic rows. */
function sweep(trace: RoutingTrace, text: string, kind: CounterfactualSweep['kind'], layer: number | null): CounterfactualSweep {
  const E = trace.model.numExperts;
  const cli = join(root, 'dist', 'cli.js');
  const demo = join(root, 'models', 'demo');
  if (trace.model.name !== 'tiny-random-mixtral' && existsSync(cli) && existsSync(join(demo, 'model.safetensors'))) {
    const mode = kind === 'sweep-k' ? 'sweep-k' : `ablate-each:${layer}`;
    const r = spawnSync(process.execPath, [cli, 'counterfactual', '--model', demo, '--text', text, '--mode', mode], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 300_000 });
    if (r.status === 0) {
      return combineSweeps(kind, layer, [{ doc: JSON.parse(r.stdout) as CounterfactualSweepDoc, tokens: trace.tokens.length }]);
    }
  }
  const own = trace.model.topK;
  return {
    kind,
    layer,
    windows: 1,
    rows: Array.from({ length: E }, (_, i) => ({
      mode: kind === 'sweep-k' ? `topk:${i + 1}` : `ablate:${layer}:${i}`,
      meanKl: kind === 'sweep-k' ? (Math.abs(own - i - 1) * 0.3) / (i + 1) : ((i * 7) % E) / 100,
      maxKl: kind === 'sweep-k' ? Math.abs(own - i - 1) : ((i * 3) % E) / 10,
      meanSurprisalDelta: kind === 'sweep-k' ? (own - i - 1) * 0.1 : ((i * 5) % E) / 50 - 0.1,
    })),
  };
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('.empty[hidden]', { state: 'attached', timeout: 20_000 });
  await page.waitForSelector('body:not([data-complete="false"])', { timeout: 30_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}

/** Picks a value in one of the bar's drop-downs as a user would (the control fires `change`). */
async function pick(page: Page, param: string, value: string): Promise<void> {
  await page.evaluate(
    ([p, v]) => {
      const sel = document.querySelector(`.cf-bar [data-param="${p}"] vscode-single-select`) as HTMLElement & { value: string };
      sel.value = v!;
      sel.dispatchEvent(new Event('change'));
    },
    [param, value],
  );
}

async function lastPosted(page: Page): Promise<{ method: string; params: Record<string, unknown> } | undefined> {
  return (await posted(page)).at(-1);
}

/** Token index → [computed background, computed text colour, classes], over the spans on screen. */
async function tokenLooks(page: Page): Promise<Map<number, { bg: string; fg: string; classes: string[] }>> {
  const list = await page.$$eval('.tok[data-i]', (spans) =>
    spans.map((s) => ({ i: Number((s as HTMLElement).dataset.i), bg: getComputedStyle(s).backgroundColor, fg: getComputedStyle(s).color, classes: [...s.classList] })),
  );
  return new Map(list.map((x) => [x.i, x]));
}

function rgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

describe('counterfactual views in Chromium', { skip: skip ?? false }, () => {
  let server: Served;
  let browser: Browser;
  let trace: RoutingTrace;
  let text: string;
  const opened: OpenPanel[] = [];

  async function panel(name: PanelName, size?: { width: number; height: number }, theme: 'dark' | 'light' = 'dark'): Promise<Page> {
    const p = await open(browser, server.origin, name, theme, size);
    opened.push(p);
    return p.page;
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ trace, text } = documentTrace());
    server = await serve();
    browser = await launch();
  });

  after(async () => {
    for (const p of opened) {
      const errors = await p.page.evaluate(() => (globalThis as unknown as { __errors: string[] }).__errors).catch(() => []);
      assert.deepEqual(errors, [], 'page errors');
      assert.deepEqual(p.foreign, [], 'requests outside the loopback server');
      assert.deepEqual(p.consoleErrors.filter((e) => !e.includes('favicon') && !/404/.test(e)), [], 'console errors');
    }
    await browser?.close();
    await server?.close();
  });

  test('token view: the mode selector posts counterfactual/run with the chosen mode, and the slider sets F', async () => {
    const page = await panel('routing');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const E = trace.model.numExperts;
    const layer = trace.model.moeLayers[trace.model.moeLayers.length - 1]!;
    // Hidden until its mode is picked: the slider belongs to expert choice and capacity only.
    assert.equal(await page.isVisible('.cf-bar [data-param="factor"]'), false);
    await pick(page, 'mode', 'topk');
    await pick(page, 'k', '1');
    await page.click('.cf-bar [data-action="run"]');
    assert.deepEqual(await lastPosted(page), { method: 'counterfactual/run', params: { uri: URI, choice: { kind: 'topk', k: 1 } } });

    await pick(page, 'mode', 'expert-choice');
    assert.equal(await page.isVisible('.cf-bar [data-param="factor"]'), true);
    await page.$eval('.cf-slider', (s) => {
      (s as HTMLInputElement).value = '1.5';
      s.dispatchEvent(new Event('input'));
    });
    assert.equal(await page.textContent('.cf-factor'), '1.50');
    await page.click('.cf-bar [data-action="run"]');
    assert.deepEqual(await lastPosted(page), { method: 'counterfactual/run', params: { uri: URI, choice: { kind: 'expert-choice', factor: 1.5 } } });

    await pick(page, 'mode', 'capacity');
    await page.click('.cf-bar [data-action="run"]');
    assert.deepEqual((await lastPosted(page))?.params.choice, { kind: 'capacity', factor: 1.5 });

    await pick(page, 'mode', 'dense');
    await page.click('.cf-bar [data-action="run"]');
    assert.deepEqual((await lastPosted(page))?.params.choice, { kind: 'dense' });

    for (const kind of ['ablate', 'force'] as const) {
      await pick(page, 'mode', kind);
      await pick(page, 'layer', String(layer));
      await pick(page, 'expert', String(E - 1));
      await page.click('.cf-bar [data-action="run"]');
      assert.deepEqual((await lastPosted(page))?.params.choice, { kind, layer, expert: E - 1 });
    }
    // Back to the model's own routing: posted at once, no Run needed.
    await pick(page, 'mode', 'model');
    assert.deepEqual((await lastPosted(page))?.params.choice, { kind: 'model' });
  });

  test('token view: a result colours each token by its KL on the legend scale and marks tokens served by no expert; cancel is offered while running', async () => {
    const page = await panel('routing');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const layer = trace.model.moeLayers[0]!;
    // Running: progress shows and Cancel posts counterfactual/cancel.
    const running: CounterfactualState = { ...EMPTY, running: { choice: { kind: 'expert-choice', factor: 1 }, fraction: 0.25, message: 'layer 1/4' } };
    await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: running } });
    await hostPost(page, { method: 'counterfactual/didProgress', params: { uri: URI, fraction: 0.5, message: 'layer 2/4' } });
    assert.match((await page.textContent('.cf-status')) ?? '', /50% layer 2\/4/);
    await page.click('.cf-bar [data-action="cancel"]');
    assert.deepEqual(await lastPosted(page), { method: 'counterfactual/cancel', params: { uri: URI } });

    const { cf, source } = overlay(trace, text, { kind: 'expert-choice', factor: 1 }, 'expert-choice:1');
    console.log(`# counterfactual: ${source}`);
    await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: { ...EMPTY, active: cf } } });
    await page.waitForSelector('.cf-legend:not([hidden])');
    const looks = await tokenLooks(page);
    assert.ok(looks.size > 10, `only ${looks.size} tokens on screen`);
    let coloured = 0;
    for (const [i, look] of looks) {
      const want = klColors(cf.kl[i]);
      assert.equal(look.bg, want ? rgb(want.background) : 'rgba(0, 0, 0, 0)', `token ${i} (KL ${cf.kl[i]}) background`);
      if (want) {
        assert.equal(look.fg, rgb(want.text), `token ${i} text colour`);
        coloured++;
      }
      const none = cf.layers.find((l) => l.layer === layer)!.experts[i]?.length === 0;
      assert.equal(look.classes.includes('cf-none'), none, `token ${i} served-by-none mark`);
    }
    assert.ok(coloured > 0, 'some tokens coloured');
    const noneCount = cf.layers.find((l) => l.layer === layer)!.experts.filter((e) => e?.length === 0).length;
    assert.ok(noneCount > 0, 'the result has tokens served by no expert');
    const legend = (await page.textContent('.cf-legend')) ?? '';
    assert.match(legend, /KL\(model ‖ counterfactual\)/);
    assert.match(legend, new RegExp(`served by no expert in layer ${layer}: ${noneCount}`));
    assert.equal(await page.locator('.cf-legend .cf-step').count(), 7);
    // Expert choice looks at the whole window: the bar says it is not causal.
    assert.match((await page.textContent('.cf-note')) ?? '', /Not causal/);
    await page.hover(`.tok[data-i="${[...looks.keys()][5]}"]`);
    assert.match((await page.getAttribute(`.tok[data-i="${[...looks.keys()][5]}"]`, 'title')) ?? '', /expert-choice:1: KL \d/);
    // The side pane of a token no expert served: its model experts beside "none" in that layer.
    const noneToken = [...looks.keys()].find((i) => cf.layers.find((l) => l.layer === layer)!.experts[i]?.length === 0)!;
    await page.click(`.tok[data-i="${noneToken}"]`);
    const row = await page.$$eval(`.cf-detail tr[data-layer="${layer}"] td`, (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(row, [`L${layer}`, trace.layers.find((l) => l.layer === layer)!.experts![noneToken]!.map((e) => `E${e}`).join(' '), 'none']);
    assert.match((await page.textContent('.cf-detail p')) ?? '', /^KL \d+\.\d{4} nats · Δsurprisal/);
    await page.screenshot({ path: join(ARTIFACTS, 'counterfactual-routing-expert-choice.png') });

    // Capacity: dropped assignments get their own mark.
    const cap = overlay(trace, text, { kind: 'capacity', factor: 0.5 }, 'capacity:0.5').cf;
    await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: { ...EMPTY, active: cap } } });
    await page.waitForFunction(() => (document.querySelector('.cf-note')?.textContent ?? '') === '');
    const capLooks = await tokenLooks(page);
    const dropped = cap.layers.find((l) => l.layer === layer)!.dropped!;
    for (const [i, look] of capLooks) {
      assert.equal(look.classes.includes('cf-dropped'), (dropped[i]?.length ?? 0) > 0, `token ${i} dropped mark`);
    }
    assert.ok([...capLooks.values()].some((l) => l.classes.includes('cf-dropped')), 'some dropped marks on screen');
    await page.screenshot({ path: join(ARTIFACTS, 'counterfactual-routing-capacity.png') });

    // Back to the model's routing: expert colours again.
    await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: EMPTY } });
    await page.waitForSelector('.cf-legend[hidden]', { state: 'attached' });
    assert.equal(await page.locator('.tok.cf-dropped, .tok.cf-none').count(), 0);
  });

  test('token view: malformed counterfactual messages are refused and change nothing', async () => {
    const page = await panel('routing');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const { cf } = overlay(trace, text, { kind: 'dense' }, 'dense');
    const bad: unknown[] = [
      { ...EMPTY, active: { ...cf, kl: cf.kl.map(() => -1) } },
      { ...EMPTY, active: { ...cf, kl: cf.kl.slice(1) } },
      { ...EMPTY, active: { ...cf, kl: cf.kl.map(() => Number.NaN) } },
      { ...EMPTY, active: { ...cf, choice: { kind: 'topk', k: -1 } } },
      { ...EMPTY, active: { ...cf, layers: [{ ...cf.layers[0]!, experts: cf.layers[0]!.experts.map(() => [1.5]) }] } },
      { ...EMPTY, running: { choice: { kind: 'dense' }, fraction: 2, message: '' } },
      { ...EMPTY, kSweep: { kind: 'sweep-k', layer: null, windows: 1, rows: [{ mode: 'topk:1', meanKl: 'x', maxKl: 1, meanSurprisalDelta: null }] } },
      { ...EMPTY, note: 3 },
    ];
    for (const c of bad) {
      await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: c } });
    }
    await hostPost(page, { method: 'counterfactual/didProgress', params: { uri: URI, fraction: -0.1, message: 'x' } });
    assert.equal(await page.evaluate(() => document.body.dataset.rejected), String(bad.length + 1));
    assert.equal(await page.locator('.cf-legend[hidden]').count(), 1);
  });

  test('dashboard: effect chart, k sweep chart and the sortable "which experts matter" table render; the cards post their runs', async () => {
    const page = await panel('dashboard', { width: 1280, height: 1000 });
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('dashboard', trace, text) } });
    await ready(page);
    const E = trace.model.numExperts;
    const layer = trace.model.moeLayers[trace.model.moeLayers.length - 1]!;
    await page.click('[data-chart="k-sweep"] [data-action="sweep-k"]');
    assert.deepEqual(await lastPosted(page), { method: 'counterfactual/run', params: { uri: URI, choice: { kind: 'sweep-k' } } });
    await page.evaluate((l) => {
      const sel = document.querySelector('[data-table="experts-matter"] vscode-single-select') as HTMLElement & { value: string };
      sel.value = String(l);
    }, layer);
    await page.click('[data-table="experts-matter"] [data-action="ablate-each"]');
    assert.deepEqual(await lastPosted(page), { method: 'counterfactual/run', params: { uri: URI, choice: { kind: 'ablate-each', layer } } });

    const { cf } = overlay(trace, text, { kind: 'topk', k: 1 }, 'topk:1');
    const kSweep = sweep(trace, text, 'sweep-k', null);
    const ablateEach = sweep(trace, text, 'ablate-each', layer);
    assert.equal(kSweep.rows.length, E);
    // The model's own k changes nothing.
    assert.ok(kSweep.rows[trace.model.topK - 1]!.meanKl < 1e-6, `k = ${trace.model.topK}: mean KL ${kSweep.rows[trace.model.topK - 1]!.meanKl}`);
    await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: { ...EMPTY, active: cf, kSweep, ablateEach } } });
    await page.waitForSelector('[data-table="experts-matter"] table.cf-experts');
    // The k sweep: one CSV row per k, and a painted canvas.
    assert.equal(await page.getAttribute('[data-chart="k-sweep"]', 'data-items'), String(E));
    assert.equal(await page.getAttribute('[data-chart="counterfactual-effect"]', 'data-items'), String(trace.tokens.length));
    const painted = await page.$eval('[data-chart="k-sweep"] canvas', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) {
        n += data[i]! > 0 ? 1 : 0;
      }
      return n;
    });
    assert.ok(painted > 1000, `k sweep canvas painted ${painted} pixels`);
    // The table: one row per expert, sorted by mean KL (largest first), re-sorted by a header click.
    const order = async (): Promise<number[]> => page.$$eval('table.cf-experts tr[data-expert]', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.expert)));
    const byMean = [...ablateEach.rows.keys()].sort((a, b) => ablateEach.rows[b]!.meanKl - ablateEach.rows[a]!.meanKl || a - b);
    assert.deepEqual(await order(), byMean);
    await page.click('table.cf-experts th[data-sort="maxKl"]');
    const byMax = [...ablateEach.rows.keys()].sort((a, b) => ablateEach.rows[b]!.maxKl - ablateEach.rows[a]!.maxKl || a - b);
    assert.deepEqual(await order(), byMax);
    await page.click('table.cf-experts th[data-sort="maxKl"]');
    assert.deepEqual(await order(), [...byMax].sort((a, b) => ablateEach.rows[a]!.maxKl - ablateEach.rows[b]!.maxKl || a - b));
    await page.click('table.cf-experts th[data-sort="meanKl"]');
    // Clicking an expert highlights it everywhere.
    await page.click(`table.cf-experts tr[data-expert="${byMean[0]}"] .expert-chip`);
    assert.deepEqual(await lastPosted(page), { method: 'expert/highlight', params: { layer, expert: byMean[0] } });
    assert.match((await page.textContent('.cf-figures')) ?? '', /mean KL/);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
    await page.screenshot({ path: join(ARTIFACTS, 'counterfactual-dashboard.png'), fullPage: false });
    await page.locator('[data-table="experts-matter"]').screenshot({ path: join(ARTIFACTS, 'counterfactual-experts-table.png') });
  });

  test('light theme: the KL colours and marks stay legible (screenshot)', async () => {
    const page = await panel('routing', undefined, 'light');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const { cf } = overlay(trace, text, { kind: 'expert-choice', factor: 1 }, 'expert-choice:1');
    await hostPost(page, { method: 'counterfactual/didChange', params: { uri: URI, counterfactual: { ...EMPTY, active: cf } } });
    await page.waitForSelector('.cf-legend:not([hidden])');
    // Text on a coloured token is the scale's own (dark on the light steps), whatever the theme.
    const looks = await tokenLooks(page);
    for (const [i, look] of looks) {
      const want = klColors(cf.kl[i]);
      if (want) {
        assert.equal(look.fg, rgb(want.text), `token ${i} text colour`);
      }
    }
    await page.screenshot({ path: join(ARTIFACTS, 'counterfactual-routing-light.png') });
  });
});
