/// <reference lib="dom" />
// The dashboard's Compare view in Chromium, behind the extension's HTML and CSP: two real traces of
// the demo model (a document and the same document with one word changed in the middle) compared by
// the host's pure code (traceCompare.ts), posted as compare/didChange. The JSD chart and the
// changed-token table draw, a click on a token posts compare/reveal, a comparison that cannot be made
// says why, malformed comparisons are rejected, null closes the view. Screenshots in both themes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RoutingTrace } from '../../src/shared/trace';
import { slimTrace } from '../../src/shared/traceCodec';
import { readTraceJson } from '../../src/shared/traceCodec';
import { alignTokens, compareTraces, type TraceComparison } from '../../src/shared/traceCompare';
import type { State } from '../../src/shared/webviewProtocol';
import { builtCli, REPO_ROOT } from '../helpers/builtCli';
import { hostPost, launch, open, posted, serve, skipReason, type OpenPanel, type Served, type Theme } from './harness';
import { DOCUMENT } from './traces';

const ARTIFACTS = join(__dirname, 'artifacts');
const skip = skipReason();
const URI_A = 'file:///work/greet.js';
const URI_B = 'file:///work/greet-edited.js';
// One word changed in the middle: the head keeps its routing, the tail is re-routed through attention.
const EDITED = DOCUMENT.replace('  return', '  yield ');

function demoTrace(text: string): RoutingTrace {
  const out = execFileSync(process.execPath, [builtCli(), 'trace', '--model', join(REPO_ROOT, 'models', 'demo'), '--text', text, '--backend', 'cpu'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return readTraceJson(out);
}

const side = (uri: string, t: RoutingTrace) => ({ uri, label: uri.split('/').pop()!, model: t.model.name, tokens: t.tokens.length });

async function rendered(page: Page): Promise<void> {
  await page.waitForSelector('.compare:not([hidden])', { timeout: 20_000 });
  await page.waitForSelector('body:not([data-complete="false"])', { timeout: 30_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}

describe('dashboard: Compare view in Chromium', { skip: skip ?? false }, () => {
  let server: Served;
  let browser: Browser;
  let a: RoutingTrace;
  let b: RoutingTrace;
  let comparison: TraceComparison;
  const opened: OpenPanel[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    a = demoTrace(DOCUMENT);
    b = demoTrace(EDITED);
    comparison = compareTraces({ side: side(URI_A, a), trace: a, text: DOCUMENT }, { side: side(URI_B, b), trace: b, text: EDITED });
    console.log(`# ${comparison.paired} of ${a.tokens.length}/${b.tokens.length} tokens paired; ${comparison.changed.length} changed experts; JSD ${comparison.layers.map((l) => l.jsd.toFixed(4)).join(' ')}`);
    server = await serve();
    browser = await launch();
  });

  after(async () => {
    for (const p of opened) {
      const errors = await p.page.evaluate(() => (globalThis as unknown as { __errors: string[] }).__errors).catch(() => []);
      assert.deepEqual(errors, [], 'page errors');
      assert.deepEqual(p.foreign, [], 'requests outside the loopback server');
      assert.deepEqual(p.consoleErrors.filter((e) => !e.includes('favicon') && !/404/.test(e)), [], 'console errors');
      await p.page.context().close();
    }
    await browser?.close();
    await server?.close();
  });

  async function dashboard(theme: Theme = 'dark', height = 900): Promise<Page> {
    const p = await open(browser, server.origin, 'dashboard', theme, { width: 1280, height });
    opened.push(p);
    const state: State = { webviewId: 'dashboard', uri: URI_A, label: 'greet.js', text: DOCUMENT, trace: slimTrace(a), layer: a.model.moeLayers[0]!, selectedToken: null, highlight: null, colorScheme: 'categorical' };
    await hostPost(p.page, { method: 'state/didChange', params: { state } });
    await hostPost(p.page, { method: 'compare/didChange', params: { compare: comparison } });
    await rendered(p.page);
    return p.page;
  }

  test('the comparison pairs the unchanged head and tail; the edit re-routes some tokens', () => {
    assert.equal(comparison.error, null);
    // Every token of A outside the edited stretch of text pairs; those unpaired touch the edit.
    let head = 0;
    while (DOCUMENT[head] === EDITED[head]) {
      head++;
    }
    let tail = 0;
    while (DOCUMENT[DOCUMENT.length - 1 - tail] === EDITED[EDITED.length - 1 - tail] && tail < DOCUMENT.length - head) {
      tail++;
    }
    const paired = new Set(comparison.changed.map((c) => c.a));
    const pairs = alignTokens(a.tokens, DOCUMENT, b.tokens, EDITED);
    pairs.forEach(([i]) => paired.add(i));
    const unpaired = a.tokens.map((t, i) => ({ t, i })).filter(({ i }) => !paired.has(i));
    assert.equal(pairs.length, comparison.paired);
    assert.ok(unpaired.length <= 8, `${unpaired.length} unpaired`);
    for (const { t, i } of unpaired) {
      assert.ok(t.start !== null && t.end! > head && t.start < DOCUMENT.length - tail, `token ${i} [${t.start}, ${t.end}) is outside the edit [${head}, ${DOCUMENT.length - tail})`);
    }
    assert.ok(comparison.changed.length > 0, 'the edit changed some routing');
    assert.ok(comparison.layers.some((l) => l.jsd > 0));
  });

  test('JSD per layer as a chart, changed tokens as a table; a click reveals the token on its side', async () => {
    const page = await dashboard();
    const header = (await page.textContent('.cmp-sides')) ?? '';
    assert.match(header, /A: greet\.js · demo · \d+ tokens/);
    assert.match(header, /B: greet-edited\.js · demo/);
    assert.equal(Number(await page.getAttribute('[data-chart="compare-jsd"]', 'data-items')), comparison.layers.length);
    const painted = await page.$eval('[data-chart="compare-jsd"] canvas', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) {
        n += d[i]! > 0 ? 1 : 0;
      }
      return n;
    });
    assert.ok(painted > 2000, `JSD chart painted ${painted} pixels`);
    const rows = await page.$$eval('.cmp-table tr', (trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    assert.equal(rows.length, Math.min(500, comparison.changed.length));
    const first = comparison.changed[0]!;
    assert.equal(rows[0]![0], `#${first.a}`);
    assert.equal(rows[0]![1], `#${first.b}`);
    assert.match(rows[0]![3]!, new RegExp(`L${first.layers[0]!.layer}`));
    for (const e of first.layers[0]!.onlyA) {
      assert.ok(rows[0]![3]!.includes(`−E${e}`), `row shows −E${e}`);
    }
    await page.click('.cmp-token[data-side="b"] >> nth=0');
    assert.deepEqual((await posted(page)).at(-1), { method: 'compare/reveal', params: { side: 'b', tokenIndex: first.b } });
    await page.click('.cmp-token[data-side="a"] >> nth=0');
    assert.deepEqual((await posted(page)).at(-1), { method: 'compare/reveal', params: { side: 'a', tokenIndex: first.a } });
    // The CSV of the table has one row per changed (token, layer).
    await page.click('[data-table="compare-changed"] vscode-button');
    const csv = (await posted(page)).at(-1)!;
    assert.equal(csv.method, 'export/save');
    assert.equal(String(csv.params.data).split('\r\n').length, 1 + comparison.changed.reduce((n, c) => n + c.layers.length, 0));
  });

  test('a trace against itself: JSD 0 everywhere, nothing changed; a comparison that cannot be made says why; null closes', async () => {
    const page = await dashboard();
    const same = compareTraces({ side: side(URI_A, a), trace: a, text: DOCUMENT }, { side: side(URI_A, a), trace: a, text: DOCUMENT });
    await hostPost(page, { method: 'compare/didChange', params: { compare: same } });
    await page.waitForSelector('text=No paired token changed experts in any layer.');
    assert.deepEqual(same.layers.map((l) => l.jsd), same.layers.map(() => 0));
    const other = structuredClone(b);
    other.model.numExperts = 32;
    const refused = compareTraces({ side: side(URI_A, a), trace: a, text: DOCUMENT }, { side: side(URI_B, other), trace: other, text: EDITED });
    await hostPost(page, { method: 'compare/didChange', params: { compare: refused } });
    await page.waitForSelector('.cmp-error:not([hidden])');
    assert.match((await page.textContent('.cmp-error')) ?? '', /^Cannot compare: the traces route to different numbers of experts \(16 vs 32\)/);
    assert.equal(await page.isHidden('.cmp-body'), true);
    await hostPost(page, { method: 'compare/didChange', params: { compare: null } });
    await page.waitForSelector('.compare', { state: 'hidden' });
  });

  test('malformed comparisons are rejected and the view stays as it was', async () => {
    const page = await dashboard();
    const before = await page.textContent('.compare');
    const rejectedBefore = Number(await page.evaluate(() => document.body.dataset.rejected ?? '0'));
    const bad: unknown[] = [
      { ...comparison, changed: [{ ...comparison.changed[0]!, layers: [{ layer: 0, onlyA: [999], onlyB: [] }] }] },
      { ...comparison, changed: [{ ...comparison.changed[0]!, a: comparison.a.tokens }] },
      { ...comparison, layers: [{ layer: 0, jsd: 'NaN', changedTokens: 0 }] },
      { ...comparison, a: null },
      'compare',
    ];
    for (const c of bad) {
      await hostPost(page, { method: 'compare/didChange', params: { compare: c } });
    }
    await page.waitForFunction((n) => Number(document.body.dataset.rejected) === n, rejectedBefore + bad.length);
    assert.equal(await page.textContent('.compare'), before);
  });

  test('screenshots in dark and light themes', async () => {
    for (const theme of ['dark', 'light'] as const) {
      const page = await dashboard(theme, 1000);
      await page.screenshot({ path: join(ARTIFACTS, `compare-${theme}.png`) });
    }
  });
});
