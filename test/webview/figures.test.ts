/**
 * @file One token, three surfaces, the same figures: the hover's Markdown, the routing panel's
 * token detail (in Chromium) and `moe-lens analyze` of the saved trace (the built CLI) print the
 * same weights, entropy, margin, near miss and shared share for every token of a DeepSeek-V3 and a
 * Qwen2-MoE trace, each computed from the fixture by the built `moe-lens trace`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildHoverMarkdown } from '../../src/extension/pure/hoverText';
import { tokenFacts } from '../../src/shared/tokenFacts';
import type { RoutingTrace } from '../../src/shared/trace';
import { readTraceJson, slimTrace } from '../../src/shared/traceCodec';
import type { State } from '../../src/shared/webviewProtocol';
import { builtCli } from '../helpers/builtCli';
import { hostPost, launch, open, serve, skipReason, type Served } from './harness';

const root = join(__dirname, '..', '..');
const ARTIFACTS = join(__dirname, 'artifacts');
const URI = 'file:///work/ids.txt';
const skip = skipReason();

/** What each surface shows for one token, as printed. */
interface Figures {
  experts: string[];
  weights: string[];
  entropy: string;
  margin: string;
  nearMiss: string;
  sharedShare: string | null;
}

function hoverFigures(trace: RoutingTrace, t: number, layer: number): Figures {
  const md = buildHoverMarkdown(trace, t, layer);
  const rows = [...md.matchAll(/^\| (\d+) \| (\S+) \| \S+ \| \S+ \|$/gm)];
  const nearMiss = /to near miss expert (\d+)/.exec(md)?.[1];
  return {
    experts: rows.map((r) => r[1]!),
    weights: rows.map((r) => r[2]!),
    entropy: /entropy (\S+) nats/.exec(md)?.[1] ?? '–',
    margin: /margin (\S+) to near miss/.exec(md)?.[1] ?? '–',
    nearMiss: nearMiss === undefined ? '–' : `E${nearMiss}`,
    sharedShare: /shared expert (\S+) of gate weight/.exec(md)?.[1] ?? null,
  };
}

function cliFigures(table: string, trace: RoutingTrace, t: number, layer: number): Figures {
  const lines = table.split('\n');
  const start = lines.indexOf(`layer ${layer} (moe)`);
  const line = lines.slice(start + 2).find((l) => l.trimStart().startsWith(`${t} `))!;
  assert.ok(line, `analyze prints token ${t} of layer ${layer}`);
  const pairs = [...line.matchAll(/(\d+) \((\S+)\)/g)];
  // After the experts: [shared share] entropy margin near surprisal.
  const tail = line.slice(line.lastIndexOf(')') + 1).trim().split(/\s+/);
  const shared = trace.layers.find((l) => l.layer === layer)!.sharedWeight !== null;
  const [sharedShare, entropy, margin, nearMiss] = shared ? tail : [null, ...tail];
  return { experts: pairs.map((p) => p[1]!), weights: pairs.map((p) => p[2]!), entropy: entropy!, margin: margin!, nearMiss: nearMiss!, sharedShare: sharedShare ?? null };
}

const FAMILIES = ['deepseek_v3', 'qwen2_moe'] as const;

describe('the same figures on every surface', { skip: skip ?? false }, () => {
  let server: Served;
  let browser: Browser;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'moe-lens-figures-'));
    server = await serve();
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const family of FAMILIES) {
    test(`${family}: hover, token detail and moe-lens analyze agree token by token`, async () => {
      const fixture = join(root, 'test', 'fixtures', family);
      const ids = (JSON.parse(readFileSync(join(fixture, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0]!;
      const json = execFileSync(process.execPath, [builtCli(), 'trace', '--model', fixture, '--ids', ids.join(','), '--backend', 'cpu'], { encoding: 'utf8', maxBuffer: 1 << 26 });
      const saved = join(dir, `${family}.json`);
      writeFileSync(saved, json);
      const trace = readTraceJson(json);
      const layer = trace.model.moeLayers[0]!;
      const l = trace.layers.find((x) => x.layer === layer)!;
      const table = execFileSync(process.execPath, [builtCli(), 'analyze', saved, '--layer', String(layer)], { encoding: 'utf8' });

      const { page } = await open(browser, server.origin, 'routing', 'dark');
      const state: State = { webviewId: 'routing', uri: URI, label: 'ids', text: null, trace: slimTrace(trace), layer, selectedToken: 0, highlight: null, colorScheme: 'categorical' };
      await hostPost(page, { method: 'state/didChange', params: { state } });
      // Drawn: the placeholder is hidden (the panels carry no test-only ready marker).
      await page.waitForSelector('.empty[hidden]', { state: 'attached', timeout: 20_000 });

      let movedByBias = 0;
      for (let t = 0; t < trace.tokens.length; t++) {
        await hostPost(page, { method: 'token/didChange', params: { uri: URI, tokenIndex: t } });
        await page.waitForFunction((h) => document.querySelector('.detail h2')?.textContent === h, `Token #${t}`);
        const panel = await page.evaluate(() => {
          const rows = [...document.querySelectorAll('.detail .routing-table:not(.all-layers) tr')].slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''));
          const facts = new Map<string, string>();
          const dts = [...document.querySelectorAll('.detail .facts dt')];
          dts.forEach((dt) => facts.set(dt.textContent ?? '', dt.nextElementSibling?.textContent ?? ''));
          return { rows, facts: [...facts.entries()] };
        });
        const facts = new Map(panel.facts);
        const marginKey = [...facts.keys()].find((k) => k.startsWith('margin'))!;
        const fromPanel: Figures = {
          experts: panel.rows.map((r) => r[0]!.replace(/^E/, '')),
          weights: panel.rows.map((r) => r[1]!),
          entropy: facts.get('entropy')!.split(' ')[0]!,
          margin: facts.get(marginKey)!,
          nearMiss: facts.get('near miss')!,
          sharedShare: facts.get('shared share') ?? null,
        };
        const fromHover = hoverFigures(trace, t, layer);
        const fromCli = cliFigures(table, trace, t, layer);
        assert.deepEqual(fromHover, fromPanel, `token ${t}: hover vs token detail`);
        assert.deepEqual(fromCli, fromPanel, `token ${t}: moe-lens analyze vs token detail`);

        const f = tokenFacts(trace.model, l, t)!;
        assert.equal(fromPanel.margin, f.margin!.toFixed(3), `token ${t}: the shared definition`);
        // The router took its own top k by the selection quantity: the margin to the near miss is never negative.
        assert.ok(f.margin! >= 0, `token ${t}: margin ${f.margin} on the selection quantity`);
        movedByBias += f.chosenAreTopScores ? 0 : 1;
      }
      if (family === 'deepseek_v3') {
        assert.ok(l.selection, 'the DeepSeek-V3 trace carries the selection quantity');
        assert.ok(movedByBias > 0, 'some token was chosen by score + bias against the score order');
      }
      console.log(`# ${family}: ${trace.tokens.length} tokens agree on 3 surfaces; ${movedByBias} chosen against the score order`);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, `token-detail-${family}.png`) });
      await page.context().close();
    });
  }
});
