/**
 * @file The Compare view end to end in a REAL VS Code (code-server + headless Chromium, harness in
 * vscode.ts): two open documents (sample.md and a copy with one word changed near the top),
 * "MoE Lens: Compare With…" from the command palette, the other document picked in its quick pick,
 * the dashboard's Compare view drawn (JSD chart, changed-token table), and a click on a token there
 * selecting it in the editor. A trace file opened with "MoE Lens: Open Trace File…" (by path, the
 * dialog being the OS's) shows in the routing panel. Screenshot: test/e2e/artifacts/compare-two-documents.png.
 * Skipped, with the reason printed, where Chromium or the e2e host is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { testModel, type TestModel } from '../integration/testModel';
import { ARTIFACTS, REPO, sleep, startVsCode, unavailableReason, type VsCode } from './vscode';

const WORKSPACE = join(REPO, 'test', 'e2e', 'workspace');
const ANALYZE = 'MoE Lens: Analyze Current Document';

async function waitFor<T>(what: string, f: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await f().catch(() => null);
    if (v !== null) {
      return v;
    }
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Compare With… and Open Trace File… in a real VS Code', () => {
  let vs: VsCode | undefined;
  let model: TestModel | null = null;
  let envSkip: string | null = null;

  before(async () => {
    envSkip = await unavailableReason();
    if (!envSkip && !existsSync(join(REPO, 'dist', 'extension.js'))) {
      envSkip = 'dist/extension.js is missing (npm run build)';
    }
    if (envSkip) {
      console.log(`[e2e] SKIPPED: ${envSkip}`);
      return;
    }
    const settings: Record<string, unknown> = { 'moeLens.liveMode': false };
    model = testModel();
    if (!model) {
      throw new Error('neither models/demo nor test/fixtures/mixtral is there');
    }
    if (model.path) {
      settings['moeLens.modelPath'] = model.path;
    }
    vs = await startVsCode({ workspace: WORKSPACE, settings });
    const sample = readFileSync(join(vs.workspace, 'sample.md'), 'utf8');
    // One word changed near the top: the rest is re-routed through attention, the head is not.
    writeFileSync(join(vs.workspace, 'sample-b.md'), sample.replace('sends every token', 'routes each token'));
    // Written now: a pause of about 5 s between probe calls can meet the probe server closing its idle
    // keep-alive socket (Node's 5 s keepAliveTimeout), and the next call fails with "other side closed".
    const args = [join(REPO, 'dist', 'cli.js'), 'trace', '--text', 'def f(x): return x + 1', '--backend', 'cpu', ...(model.path ? ['--model', model.path] : [])];
    writeFileSync(join(vs.workspace, 'saved.moe-trace.json'), execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 }));
  });

  after(async () => {
    if (vs) {
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(join(ARTIFACTS, 'exthost-compare.log'), vs.extensionHostLog(1_000_000));
    }
    await vs?.close();
    model?.cleanup();
  });

  function ready(t: TestContext): VsCode | undefined {
    if (envSkip) {
      t.skip(envSkip);
      return undefined;
    }
    assert.ok(vs, 'VS Code did not start');
    return vs;
  }

  it('compares two open documents in the dashboard; a click on a changed token selects it in the editor', async (t) => {
    const v = ready(t);
    if (!v) {
      return;
    }
    await v.openFile('sample-b.md');
    await v.runCommand(ANALYZE);
    await waitFor(
      'sample-b.md analysed',
      async () => {
        const st = await v.exec<{ analyses: Record<string, unknown> }>('moeLens.debug.stats');
        return Object.keys(st.analyses).some((u) => u.endsWith('sample-b.md')) ? true : null;
      },
      120_000,
    );
    await v.openFile('sample.md');
    // From the palette, as a person would; sample.md is analysed first, then the quick pick opens.
    await v.runCommand('MoE Lens: Compare With…');
    const input = v.page.locator('.quick-input-widget input.input');
    await v.page.locator('.quick-input-list .monaco-list-row', { hasText: 'sample-b.md' }).first().waitFor({ state: 'visible', timeout: 120_000 });
    await input.fill('sample-b');
    await v.page.locator('.quick-input-list .monaco-list-row', { hasText: 'sample-b.md' }).first().waitFor({ state: 'visible', timeout: 10_000 });
    await v.page.keyboard.press('Enter');
    const frame = await v.webviewFrame('.compare:not([hidden]) .cmp-table', 120_000);
    const text = (await frame.locator('.compare').innerText()).replace(/\s+/g, ' ');
    console.log(`[e2e] compare view: ${text.slice(0, 300)}`);
    assert.match(text, /A: sample\.md · .+ · \d+ tokens/);
    assert.match(text, /B: sample-b\.md/);
    assert.match(text, /\d+ tokens paired by their spans/);
    const layers = Number(await frame.locator('[data-chart="compare-jsd"]').getAttribute('data-items'));
    assert.ok(layers >= 1, `JSD chart has ${layers} layers`);
    const rows = await frame.locator('.cmp-table tr').count();
    assert.ok(rows > 1, 'the changed-token table lists tokens');
    // A click on a token of A reveals it in sample.md's editor (through the store, as the panels do).
    const button = frame.locator('.cmp-token[data-side="a"]').first();
    const index = Number(await button.getAttribute('data-token'));
    await button.click();
    const selected = await waitFor(
      'the clicked token selected in sample.md',
      async () => {
        const st = await v.exec<{ lastSelection: { uri: string; tokenIndex: number; source: string } | null }>('moeLens.debug.stats');
        const { editors } = await v.probe<{ editors: { path: string; text: string }[] }>('/selections');
        const ed = editors.find((e) => e.path.endsWith('sample.md'));
        return st.lastSelection?.tokenIndex === index && st.lastSelection.uri.endsWith('sample.md') && ed?.text ? { source: st.lastSelection.source, text: ed.text } : null;
      },
      20_000,
    );
    console.log(`[e2e] compare: clicked token #${index} of A; editor selection "${selected.text}" (source ${selected.source})`);
    assert.equal(selected.source, 'dashboard');
    await sleep(800);
    await v.screenshot('compare-two-documents');
  });

  it('compares the document with itself on a model picked for B (here the demo model again): run in the engine, nothing changed', async (t) => {
    const v = ready(t);
    if (!v || model?.path) {
      t.skip('needs the embedded demo model as the configured one');
      return;
    }
    await v.openFile('sample.md');
    await v.runCommand('MoE Lens: Compare With…');
    const row = v.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Embedded demo model' }).first();
    await row.waitFor({ state: 'visible', timeout: 60_000 });
    await v.page.locator('.quick-input-widget input.input').fill('Embedded demo');
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    await v.page.keyboard.press('Enter');
    const frame = await v.webviewFrame('.compare:not([hidden])', 120_000, /Both sides ran on/);
    const text = (await frame.locator('.compare').innerText()).replace(/\s+/g, ' ');
    console.log(`[e2e] compare on another model: ${text.slice(0, 260)}`);
    assert.match(text, /A: sample\.md · demo · (\d+) tokens B: sample\.md · demo · \1 tokens/);
    assert.match(text, /Both sides ran on demo, the same model \(B just now, in the engine process\)\./);
    assert.match(text, /No paired token changed experts in any layer/);
  });

  it('opens a saved trace file in the panels', async (t) => {
    const v = ready(t);
    if (!v) {
      return;
    }
    const file = join(v.workspace, 'saved.moe-trace.json');
    const uri = await v.exec<string>('moeLens.openTraceFile', file);
    assert.match(uri, /^moe-lens-trace:/);
    const frame = await v.webviewFrame('span.tok[data-i]', 60_000, /saved\.moe-trace\.json/);
    const tokens = await frame.locator('span.tok[data-i]').count();
    console.log(`[e2e] opened trace: ${tokens} token spans in the routing panel`);
    assert.ok(tokens > 5);
  });
});
