/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The built webview panels in headless Chromium, behind the extension's own HTML and CSP, fed a
// real routing trace: layout, colours, messages both ways, charts, hostile input, screenshots, and
// (printed, not asserted) timings for a 20,000-token trace.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { OPACITY_LEVELS, expertColor, opacityLevel, type ColorScheme, type ThemeKind } from '../../src/shared/expertPalette';
import type { RoutingTrace } from '../../src/shared/trace';
import { slimTrace } from '../../src/shared/traceCodec';
import type { State } from '../../src/shared/webviewProtocol';
import { hostPost, launch, open, posted, serve, skipReason, type OpenPanel, type PanelName, type Served, type Theme } from './harness';
import { malformedMessages } from './malformed';
import { documentTrace, traceSource } from './traces';

const ARTIFACTS = join(__dirname, 'artifacts');
const URI = 'file:///work/greet.js';
const skip = skipReason();
if (skip) {
  console.log(`# webview browser tests skipped: ${skip}`);
}

/** The state as the host sends it (slimmed trace: see slimTrace). */
function stateFor(webviewId: PanelName, trace: RoutingTrace, text: string, extra: Partial<State> = {}): State {
  return { webviewId, uri: URI, label: 'greet.js', text, trace: slimTrace(trace), layer: trace.model.moeLayers[0] ?? 0, selectedToken: null, highlight: null, colorScheme: 'categorical', ...extra };
}

/** Shown: the "No analysis yet" placeholder is hidden, which each panel does as it draws a trace. */
const RENDERED = '.empty[hidden]';

async function ready(page: Page): Promise<void> {
  await page.waitForSelector(RENDERED, { state: 'attached', timeout: 20_000 });
  // The dashboard draws its lower charts one per task after the first ones.
  await page.waitForSelector('body:not([data-complete="false"])', { timeout: 30_000 });
  // Let the frame after the state paint.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}

/** The expert colours the page should use: the editor's (shared) palette for the scheme. */
function editorPalette(E: number, scheme: ColorScheme): [number, number, number][] {
  return Array.from({ length: E }, (_, e) => {
    const { r, g, b } = expertColor(e, E, scheme);
    return [r, g, b];
  });
}

describe('webview panels in Chromium', { skip: skip ?? false }, () => {
  let server: Served;
  let browser: Browser;
  let trace: RoutingTrace;
  let text: string;
  const opened: OpenPanel[] = [];

  async function panel(name: PanelName, theme: Theme = 'dark', size?: { width: number; height: number }): Promise<OpenPanel> {
    const p = await open(browser, server.origin, name, theme, size);
    opened.push(p);
    return p;
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ trace, text } = documentTrace());
    console.log(`# trace: ${traceSource}; ${trace.tokens.length} tokens, ${trace.model.numExperts} experts, top-${trace.model.topK}`);
    server = await serve();
    browser = await launch();
  });

  after(async () => {
    for (const p of opened) {
      // No page may have thrown, logged an error, or reached past the loopback server.
      const errors = await p.page.evaluate(() => (globalThis as unknown as { __errors: string[] }).__errors).catch(() => []);
      assert.deepEqual(errors, [], 'page errors');
      assert.deepEqual(p.foreign, [], 'requests outside the loopback server');
      assert.deepEqual(p.consoleErrors.filter((e) => !e.includes('favicon') && !/404/.test(e)), [], 'console errors');
    }
    await browser?.close();
    await server?.close();
  });

  test('routing: the token spans reassemble the document exactly', async () => {
    const { page } = await panel('routing');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const shown = await page.evaluate(() =>
      [...document.querySelectorAll('.tv-line')].map((line) => [...line.querySelectorAll(':scope > .tok:not(.chip), :scope > .gap')].map((s) => s.firstChild?.textContent ?? '').join('')).join('\n'),
    );
    assert.equal(shown, text);
    // Every token with a span in the text has a clickable element.
    const indices = await page.evaluate(() => new Set([...document.querySelectorAll('[data-i]')].map((e) => Number((e as HTMLElement).dataset.i))).size);
    assert.equal(indices, trace.tokens.length);
  });

  // Each case: a theme, the user's colour scheme, and CSS variables the page gets (the "theme"
  // scheme's contributed colours reach a webview as --vscode-moeLens-expertNBackground).
  const colourCases: { theme: Theme; scheme: ColorScheme; vars?: Record<number, [number, number, number]> }[] = [
    { theme: 'dark', scheme: 'categorical' },
    { theme: 'light', scheme: 'spectrum' },
    { theme: 'dark', scheme: 'theme', vars: { 0: [18, 52, 86], 3: [200, 10, 20] } },
  ];
  for (const c of colourCases) {
    test(`routing: colours are the editor's (${c.scheme}, ${c.theme}; top-1 fill by opacity bucket, top-k segments), also after a layer change`, async () => {
      const { page } = await panel('routing', c.theme);
      if (c.vars) {
        await page.evaluate((vars) => {
          for (const [e, [r, g, b]] of Object.entries(vars)) {
            // With an alpha, as VS Code hands them over: the panel keeps only the colour.
            document.documentElement.style.setProperty(`--vscode-moeLens-expert${e}Background`, `rgba(${r}, ${g}, ${b}, 0.5)`);
          }
        }, c.vars);
      }
      await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text, { colorScheme: c.scheme }) } });
      await ready(page);
      const E = trace.model.numExperts;
      const palette = editorPalette(E, c.scheme).map((rgb, e) => c.vars?.[e % 16] ?? rgb);
      const levels = OPACITY_LEVELS[c.theme as ThemeKind];
      const moe = trace.layers.filter((l) => l.kind === 'moe');
      const seen = new Set<number>();
      for (const l of [moe[0]!, moe[moe.length - 1]!]) {
        await hostPost(page, { method: 'layer/didChange', params: { layer: l.layer } });
        await page.waitForFunction((layer) => document.querySelector('vscode-single-select')?.getAttribute('data-value') === String(layer), l.layer);
        const looks = await page.evaluate(() =>
          [...document.querySelectorAll<HTMLElement>('.tok[data-i]')].map((s) => ({ i: Number(s.dataset.i), color: getComputedStyle(s).backgroundColor, image: s.style.backgroundImage })),
        );
        for (const look of looks) {
          const experts = l.experts![look.i]!;
          const top = experts[0]!;
          // Bottom bar: one segment per chosen expert, in order of applied weight.
          // A hard stop may serialise as two stops of the same colour: fold repeats.
          const segs = [...look.image.matchAll(/rgba?\((\d+), (\d+), (\d+)/g)]
            .map((m) => [Number(m[1]), Number(m[2]), Number(m[3])].join())
            .filter((x, j, all) => j === 0 || all[j - 1] !== x);
          assert.equal(segs.length, experts.length, `token ${look.i} segments`);
          assert.deepEqual(segs, experts.map((e) => palette[e]!.join()), `token ${look.i} segment colours`);
          // Fill: the top-1 colour at the alpha of the editor's decoration bucket for this token.
          const m = /rgba\((\d+), (\d+), (\d+), ([\d.]+)\)/.exec(look.color);
          assert.ok(m, `token ${look.i} fill ${look.color}`);
          assert.equal([m[1], m[2], m[3]].join(), palette[top]!.join(), `token ${look.i} fill colour`);
          const alpha = levels[opacityLevel(l.weights![look.i]!)]!;
          assert.ok(Math.abs(Number(m[4]) - alpha) < 0.01, `token ${look.i} fill alpha ${m[4]} vs ${alpha}`);
          seen.add(top);
        }
      }
      assert.ok(seen.size > 1, 'several experts checked');
      if (c.vars) {
        assert.ok(Object.keys(c.vars).some((e) => seen.has(Number(e))), 'a themed colour was checked');
      }
    });
  }

  test('routing: clicking a token posts token/select and shows its routing; host selection highlights without echo', async () => {
    const { page } = await panel('routing');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const target = trace.tokens.findIndex((t, i) => i > 3 && t.start !== null && t.end! > t.start);
    await page.click(`.tok[data-i="${target}"]`);
    const msgs = await posted(page);
    assert.deepEqual(msgs.at(-1), { method: 'token/select', params: { uri: URI, tokenIndex: target } });
    assert.equal(await page.textContent('.detail h2'), `Token #${target}`);
    assert.match((await page.textContent('.detail .notes')) ?? '', /Routing notes[\s\S]*top-/);
    const l0 = trace.layers.find((l) => l.kind === 'moe')!;
    const rows = await page.$$eval('.detail .routing-table:not(.all-layers) tr', (trs) => trs.slice(1).map((tr) => tr.querySelector('td')!.textContent));
    assert.deepEqual(rows, l0.experts![target]!.map((e) => `E${e}`));

    const other = trace.tokens.length - 2;
    const before = msgs.length;
    await hostPost(page, { method: 'token/didChange', params: { uri: URI, tokenIndex: other } });
    await page.waitForSelector(`.tok.sel[data-i="${other}"]`);
    assert.equal(await page.locator('.tok.sel').first().getAttribute('data-i'), String(other));
    assert.equal((await posted(page)).length, before, 'a host selection is not posted back');
  });

  test('routing: legend click highlights an expert and posts expert/highlight; the strip shows every layer', async () => {
    const { page } = await panel('routing');
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text) } });
    await ready(page);
    const l0 = trace.layers.find((l) => l.kind === 'moe')!;
    const expert = l0.experts![0]![0]!;
    await page.click(`.legend-item[data-expert="${expert}"]`);
    assert.deepEqual((await posted(page)).at(-1), { method: 'expert/highlight', params: { layer: l0.layer, expert } });
    const hl = await page.$$eval('.tok.hl', (s) => [...new Set(s.map((e) => Number((e as HTMLElement).dataset.i)))].sort((a, b) => a - b));
    const expected = l0.experts!.map((row, i) => (row.includes(expert) ? i : -1)).filter((i) => i >= 0 && trace.tokens[i]!.start !== null);
    assert.deepEqual(hl.filter((i) => trace.tokens[i]!.start !== null), expected);
    await page.click('vscode-checkbox');
    await page.waitForSelector('.with-strip .strip');
    const strips = await page.$$eval('.strip', (s) => s.filter((e) => (e as HTMLElement).style.backgroundImage.includes('gradient')).length);
    assert.ok(strips >= trace.tokens.filter((t) => t.start !== null && t.end! > t.start).length - 1);
  });

  test('dashboard: every chart renders non-empty; expert clicks and exports are posted to the host', async () => {
    const { page } = await panel('dashboard', 'dark', { width: 1280, height: 900 });
    await hostPost(page, { method: 'state/didChange', params: { state: stateFor('dashboard', trace, text) } });
    await ready(page);
    // The statistics grid; the counterfactual cards above it stay empty until a run (counterfactual.test.ts).
    const charts = await page.$$eval('main.grid [data-chart]', (cards) =>
      cards.map((card) => {
        const canvas = card.querySelector('canvas');
        let painted = 0;
        if (canvas) {
          const g = canvas.getContext('2d')!;
          const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
          for (let i = 3; i < d.length; i += 4) {
            painted += d[i]! > 0 ? 1 : 0;
          }
        }
        return { id: (card as HTMLElement).dataset.chart!, items: Number((card as HTMLElement).dataset.items), painted };
      }),
    );
    assert.equal(charts.length, 9);
    const repeated = new Set(trace.tokens.map((t) => t.id)).size < trace.tokens.length;
    for (const c of charts) {
      if (c.id === 'routing-consistency' && !repeated) {
        continue;
      }
      assert.ok(c.items > 0, `${c.id} has data`);
      assert.ok(c.painted > 2000, `${c.id} painted ${c.painted} pixels`);
    }
    const tables = await page.$$eval('main.grid [data-table]', (cards) => cards.map((c) => ({ id: (c as HTMLElement).dataset.table, rows: c.querySelectorAll('tr').length })));
    for (const t of tables) {
      assert.ok(t.rows > 1, `${t.id} has rows`);
    }

    await page.click('.top-tokens .expert-chip >> nth=1');
    const layer = trace.model.moeLayers[0];
    assert.deepEqual((await posted(page)).at(-1), { method: 'expert/highlight', params: { layer, expert: 1 } });

    await page.click('[data-table="balance-by-layer"] vscode-button');
    const csv = (await posted(page)).at(-1)!;
    assert.equal(csv.method, 'export/save');
    assert.equal(csv.params.format, 'csv');
    assert.match(String(csv.params.data), /^layer,aux_loss,cv,max_over_mean,z_loss/);
    assert.equal(String(csv.params.data).split('\r\n').length, trace.layers.filter((l) => l.kind === 'moe').length + 1);

    await page.click('[data-chart="load-heatmap"] vscode-button >> nth=0');
    const png = (await posted(page)).at(-1)!;
    assert.equal(png.params.format, 'png');
    assert.equal(Buffer.from(String(png.params.data), 'base64').subarray(1, 4).toString(), 'PNG');
    await page.click('[data-chart="load-heatmap"] vscode-button >> nth=1');
    const svg = (await posted(page)).at(-1)!;
    assert.equal(svg.params.format, 'svg');
    assert.match(String(svg.params.data), /^<svg[^>]*>[\s\S]*<rect|path/);
    await hostPost(page, { method: 'export/didSave', params: { id: svg.params.id, saved: true, path: '/tmp/x.svg', error: null } });
    await page.waitForSelector('.status:text("Saved /tmp/x.svg")');
  });

  for (const name of ['routing', 'dashboard'] as const) {
    test(`${name}: 1,000 malformed messages are rejected without an exception; the view stays as it was`, async () => {
      const { page } = await panel(name);
      const good = stateFor(name, trace, text);
      await hostPost(page, { method: 'state/didChange', params: { state: good } });
      await ready(page);
      const beforeHtml = await page.evaluate(() => document.querySelector('#app')!.querySelectorAll('*').length);
      const bad = malformedMessages(trace.tokens.length, trace.model.numExperts);
      assert.equal(bad.length, 1000);
      // Small JSON crosses into the page; NaN, ±Infinity and undefined travel as tags.
      const json = JSON.stringify(bad, (_k, v: unknown) =>
        v === undefined ? { $tag: 'undefined' } : typeof v === 'number' && !Number.isFinite(v) ? { $tag: String(v) } : v,
      );
      await page.evaluate(
        async ({ j, state }) => {
          const tags: Record<string, unknown> = { undefined: undefined, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
          type Edit = { path: (string | number)[]; op: 'set' | 'pop' | 'push'; value?: unknown };
          const ms = JSON.parse(j, (_k, v: unknown) => (v && typeof v === 'object' && '$tag' in v ? tags[String((v as { $tag: string }).$tag)] : v)) as ({ raw: unknown } | { edits: Edit[] })[];
          for (let i = 0; i < ms.length; i++) {
            const m = ms[i]!;
            if ('edits' in m) {
              const s = structuredClone(state) as unknown as Record<string | number, unknown>;
              for (const e of m.edits) {
                let o = s;
                for (const k of e.path.slice(0, -1)) {
                  o = o[k] as Record<string | number, unknown>;
                }
                const last = e.path[e.path.length - 1]!;
                if (e.op === 'pop') {
                  (o[last] as unknown[]).pop();
                } else if (e.op === 'push') {
                  (o[last] as unknown[]).push(e.value);
                } else {
                  o[last] = e.value;
                }
              }
              window.postMessage({ method: 'state/didChange', params: { state: s } }, '*');
            } else {
              window.postMessage(m.raw, '*');
            }
            // Let the page drain its queue now and then, as a real host's messages would arrive.
            if (i % 50 === 49) {
              await new Promise((res) => setTimeout(res, 0));
            }
          }
        },
        { j: json, state: good },
      );
      await page.waitForFunction(() => document.body.dataset.rejected === '1000', undefined, { timeout: 20_000 });
      assert.equal(await page.evaluate(() => document.querySelector('#app')!.querySelectorAll('*').length), beforeHtml);
    });
  }

  test('injected markup in the document stays text', async () => {
    assert.ok(text.includes('<img src=x onerror=') && text.includes('</script>'));
    for (const name of ['routing', 'dashboard'] as const) {
      const { page } = await panel(name);
      await hostPost(page, { method: 'state/didChange', params: { state: stateFor(name, trace, text, { selectedToken: 5 }) } });
      await ready(page);
      await page.waitForTimeout(200);
      const r = await page.evaluate(() => ({
        imgs: document.querySelectorAll('#app img').length,
        scripts: document.querySelectorAll('script').length,
        pwned: (globalThis as unknown as { __pwned?: number }).__pwned ?? null,
        text: document.querySelector('#app')!.textContent ?? '',
      }));
      assert.equal(r.imgs, 0);
      assert.equal(r.scripts, 2, 'only the stub and the panel script');
      assert.equal(r.pwned, null);
      if (name === 'routing') {
        assert.ok(r.text.includes('onerror=window.__pwned=1>'), 'markup shown as text');
        assert.ok(r.text.includes('</script>'));
      }
    }
  });

  test('screenshots in light and dark themes', async () => {
    const l0 = trace.layers.find((l) => l.kind === 'moe')!;
    const selected = trace.tokens.findIndex((t) => t.text?.includes('img') || t.text?.includes('onerror'));
    for (const theme of ['light', 'dark'] as const) {
      const r = await panel('routing', theme, { width: 1280, height: 720 });
      await hostPost(r.page, { method: 'state/didChange', params: { state: stateFor('routing', trace, text, { selectedToken: selected >= 0 ? selected : 3 }) } });
      await ready(r.page);
      await r.page.screenshot({ path: join(ARTIFACTS, `routing-${theme}.png`) });
      await r.page.click('vscode-checkbox');
      await hostPost(r.page, { method: 'expert/didChange', params: { highlight: { layer: l0.layer, expert: l0.experts![0]![0]! } } });
      await r.page.waitForSelector('.with-strip .strip');
      await r.page.screenshot({ path: join(ARTIFACTS, `routing-strip-${theme}.png`) });
      // Tall enough for the whole grid: the page itself does not scroll, its content pane does.
      const d = await panel('dashboard', theme, { width: 1280, height: 2900 });
      await hostPost(d.page, { method: 'state/didChange', params: { state: stateFor('dashboard', trace, text) } });
      await ready(d.page);
      await d.page.screenshot({ path: join(ARTIFACTS, `dashboard-${theme}.png`) });
    }
  });

  test('20,000 tokens: time to first render and longest task while scrolling (printed)', async () => {
    // The trace is made inside the page: tens of MB of JSON through the browser protocol would dominate.
    const synthetic = readFileSync(join(__dirname, 'synthetic.js'), 'utf8');
    const [T, L, E, k] = [20_000, 4, 16, 2];
    const make = async (page: Page, webviewId: PanelName): Promise<void> => {
      await page.evaluate(synthetic);
      await page.evaluate(
        ({ webviewId, uri, T, L, E, k }) => {
          const g = globalThis as unknown as Record<string, unknown> & { makeSynthetic(T: number, L: number, E: number, k: number): { trace: unknown; text: string } };
          const { trace, text } = g.makeSynthetic(T, L, E, k);
          // As the host's slimTrace sends it: softmax scores are recomputed by the page.
          for (const l of (trace as { layers: { scores: unknown }[] }).layers) {
            l.scores = null;
          }
          g.__big = { method: 'state/didChange', params: { state: { webviewId, uri, label: 'big.js', text, trace, layer: 0, selectedToken: null, highlight: null, colorScheme: 'categorical' } } };
          g.__lines = text.split('\n').length;
        },
        { webviewId, uri: URI, T, L, E, k },
      );
    };
    // Post → painted, split by the page's own marks into delivery (structured-clone of the message),
    // validation, and drawing.
    const firstRender = (page: Page): Promise<{ total: number; delivery: number; validation: number; draw: number }> =>
      page.evaluate(async () => {
        performance.clearMarks();
        const t0 = performance.now();
        window.postMessage((globalThis as unknown as { __big: unknown }).__big, '*');
        await new Promise<void>((res) => {
          const wait = (): void => void (document.querySelector('.empty[hidden]') ? requestAnimationFrame(() => res()) : setTimeout(wait, 1));
          wait();
        });
        const t1 = performance.now();
        const mark = (n: string): number => performance.getEntriesByName(n).at(-1)?.startTime ?? NaN;
        return { total: t1 - t0, delivery: mark('moeLens:received') - t0, validation: mark('moeLens:valid') - mark('moeLens:received'), draw: t1 - mark('moeLens:valid') };
      });
    const fmtRender = (r: { total: number; delivery: number; validation: number; draw: number }): string =>
      `${r.total.toFixed(0)} ms (message delivery ${r.delivery.toFixed(0)}, validation ${r.validation.toFixed(0)}, drawing ${r.draw.toFixed(0)})`;
    const r = await panel('routing', 'dark', { width: 1280, height: 800 });
    await make(r.page, 'routing');
    const routingFirst = await firstRender(r.page);
    // Scroll the whole document in steps of 400 px, one step per frame, watching frame gaps and long tasks.
    const scroll = await r.page.evaluate(async () => {
      const longTasks: number[] = [];
      const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
      obs.observe({ entryTypes: ['longtask'] });
      const s = document.querySelector<HTMLElement>('.tv-scroll')!;
      const frames: number[] = [];
      let last = performance.now();
      let steps = 0;
      await new Promise<void>((res) => {
        const step = (now: number): void => {
          frames.push(now - last);
          last = now;
          s.scrollTop += 400;
          steps++;
          if (s.scrollTop + s.clientHeight >= s.scrollHeight - 1 || steps > 3000) {
            res();
          } else {
            requestAnimationFrame(step);
          }
        };
        requestAnimationFrame(step);
      });
      await new Promise((res) => setTimeout(res, 200));
      obs.disconnect();
      const lastToken = Math.max(...[...document.querySelectorAll<HTMLElement>('.tok[data-i]')].map((e) => Number(e.dataset.i)));
      return {
        steps,
        maxFrame: Math.max(...frames.slice(1)),
        longTasks,
        spans: document.querySelectorAll('.tok').length,
        lastToken,
        windows: document.querySelectorAll('.win').length,
        lines: (globalThis as unknown as { __lines: number }).__lines,
      };
    });
    await r.page.screenshot({ path: join(ARTIFACTS, 'routing-20k-end.png') });
    assert.ok(scroll.spans > 0 && scroll.spans < 5_000, `virtualised: ${scroll.spans} token spans in the DOM`);
    assert.equal(scroll.lastToken, T - 1, 'the end of the document is reachable and drawn');
    const d = await panel('dashboard', 'dark', { width: 1280, height: 900 });
    await make(d.page, 'dashboard');
    const dashFirst = await firstRender(d.page);
    const dashAll = await d.page.evaluate(async () => {
      const t0 = performance.now();
      await new Promise<void>((res) => {
        const wait = (): void => void (document.body.dataset.complete === 'true' ? requestAnimationFrame(() => res()) : setTimeout(wait, 5));
        wait();
      });
      return performance.now() - t0;
    });
    const report = [
      `20,000 tokens (${scroll.lines} lines, ${L} layers × ${E} experts, top-${k}, windows of 1024), headless Chromium on this machine:`,
      `  routing:   first render ${fmtRender(routingFirst)} (goal < 1000 ms)`,
      `  routing:   scrolled to the end in ${scroll.steps} frames of 400 px; longest frame ${scroll.maxFrame.toFixed(1)} ms; long tasks (> 50 ms): ${scroll.longTasks.length ? scroll.longTasks.map((x) => x.toFixed(0)).join(', ') : 'none'} (goal: longest task < 50 ms)`,
      `  routing:   ${scroll.spans} token spans in the DOM at the end (virtualised), ${scroll.windows} window markers in view`,
      `  dashboard: first render (figures, heatmap, load, balance) ${fmtRender(dashFirst)}; all 9 charts and 2 tables ${(dashFirst.total + dashAll).toFixed(0)} ms`,
      `  machine load average while measuring: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`,
    ].join('\n');
    console.log(report);
    writeFileSync(join(ARTIFACTS, 'perf.txt'), report + '\n');
  });
});
