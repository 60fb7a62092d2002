/**
 * @file A model that streams from disk, in a REAL VS Code (code-server + Chromium): with
 * moeLens.memoryLimitMb just above the embedded model's streaming minimum (so it does not fit
 * resident), Analyze asks first in a modal with the bytes it reads and an estimated time, and
 * colours the tokens after "Analyse". Screenshots: test/e2e/artifacts/streamed-*.png. Skipped, with
 * the reason printed, where Chromium or the e2e host is missing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { summarizeModel } from '../../src/engine/modelSummary';
import { REPO, sleep, startVsCode, unavailableReason, type VsCode } from './vscode';

const DEMO = join(REPO, 'models', 'demo');

async function until<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn().catch(() => null);
    if (v) {
      return v;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('a streamed model in a real VS Code', () => {
  let vs: VsCode | undefined;
  let skip: string | null = null;

  before(async () => {
    skip = (await unavailableReason()) ?? (existsSync(join(REPO, 'dist', 'extension.js')) ? null : 'dist/extension.js is missing (npm run build)');
    if (skip) {
      console.log(`[e2e] SKIPPED: ${skip}`);
      return;
    }
    // The wasm plan (what 'auto' plans for): a budget 1 MB over its minimum cannot hold the model resident.
    const { plan } = await summarizeModel(DEMO, { backend: 'wasm' });
    const budgetMb = Math.ceil(plan.minimumBytes / 2 ** 20) + 1;
    assert.ok(budgetMb * 2 ** 20 < plan.minimumBytes + plan.storedBytes, 'the budget must be below resident');
    console.log(`[e2e] embedded model: minimum ${Math.ceil(plan.minimumBytes / 2 ** 20)} MB, stored ${Math.ceil(plan.storedBytes / 2 ** 20)} MB; moeLens.memoryLimitMb = ${budgetMb}`);
    vs = await startVsCode({ workspace: join(REPO, 'test', 'e2e', 'workspace'), settings: { 'moeLens.liveMode': false, 'moeLens.memoryLimitMb': budgetMb } });
  });

  after(async () => {
    await vs?.close();
  });

  it('asks in a modal with the bytes and the time, then analyses on "Analyse"', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const v = vs as VsCode;
    await v.openFile('sample.md');
    await v.runCommand('MoE Lens: Analyze Current Document');
    const dialog = v.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 120_000 });
    const text = await dialog.innerText();
    console.log(`[e2e] confirmation:\n${text}`);
    assert.match(text, /It is streamed from disk: it does not fit the memory budget of \d+ MB\./);
    assert.match(text, /Each analysis reads up to 0\.\d\d GB of weights from disk/);
    assert.match(text, /should take about \d+ s/);
    assert.equal((await v.backgroundDecorations()).count, 0, 'nothing analysed before the answer');
    await v.screenshot('streamed-confirm');
    await dialog.locator('.monaco-button', { hasText: 'Analyse' }).first().click();
    const deco = await until('token highlights', async () => {
      const d = await v.backgroundDecorations();
      return d.count > 20 ? d : null;
    }, 180_000);
    console.log(`[e2e] streamed analysis: ${deco.count} decorated ranges in ${deco.colors.length} colours`);
    await sleep(500);
    await v.screenshot('streamed-analysed');
  });
});
