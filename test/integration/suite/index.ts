/**
 * The integration suite that runs INSIDE a real VS Code extension host (loaded through
 * @vscode/test-electron's extensionTestsPath, so in ExtensionMode.Test, where the tests' own
 * moeLens.debug.* commands exist): activation, commands, the stored analysis,
 * decorations, hover text, layer selection, export, and recovery after the engine is killed.
 * No mocha: a tiny sequential runner, so nothing beyond @vscode/test-electron is needed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';

// What moeLens.debug.stats returns (src/extension/testCommands.ts; registered in Test mode only).
interface Stats {
  queueLength: number;
  enginePid: number | null;
  decorationTypes: number;
  analyses: Record<string, { version: number; tokens: number; layers: number }>;
}

/** Analyses the active document; its token count from the stored analysis, and the time taken. */
async function analyzeActive(): Promise<{ tokens: number; ms: number }> {
  const t0 = performance.now();
  await vscode.commands.executeCommand('moeLens.analyzeDocument');
  const ms = Math.round(performance.now() - t0);
  const uri = vscode.window.activeTextEditor?.document.uri.toString() ?? '';
  const stats = await vscode.commands.executeCommand<Stats>('moeLens.debug.stats');
  return { tokens: stats.analyses[uri]?.tokens ?? 0, ms };
}

/** This suite runs in the extension host, so it measures that event loop's delay itself (ms). */
function eventLoopMeter(): { read(): { max: number; p99: number }; stop(): void } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  return {
    read: () => {
      const r = { max: h.count ? ms(h.max) : 0, p99: h.count ? ms(h.percentile(99)) : 0 };
      h.reset();
      return r;
    },
    stop: () => h.disable(),
  };
}

const tests: [string, () => Promise<void>][] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const test = (name: string, fn: () => Promise<void>): void => void tests.push([name, fn]);

async function openSample(): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the suite runs with test/integration/workspace open');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'sample.md'));
  return vscode.window.showTextDocument(doc);
}

test('activates and registers every contributed command', async () => {
  const ext = vscode.extensions.getExtension('moe-lens.moe-lens');
  assert.ok(ext, 'the extension under development is loaded');
  await ext.activate();
  const contributed = (ext.packageJSON as { contributes: { commands: { command: string; category: string }[] } }).contributes.commands;
  assert.ok(contributed.every((c) => c.category === 'MoE Lens'));
  const all = await vscode.commands.getCommands(true);
  for (const c of contributed) {
    assert.ok(all.includes(c.command), `${c.command} is registered`);
  }
  for (const id of ['selectModel', 'analyzeDocument', 'showRoutingPanel', 'showDashboard', 'selectLayer', 'toggleHighlights', 'exportTrace', 'cancel', 'restartEngine', 'debug.stats']) {
    // debug.*: the tests' commands, there because the suite runs the extension in Test mode.
    assert.ok(all.includes(`moeLens.${id}`), `moeLens.${id} is registered`);
  }
});

test('analyzes the active document and stores its routing', async () => {
  await openSample();
  // The same measurement with nothing running, to tell machine load from our own stalls.
  const lag = eventLoopMeter();
  await sleep(4000);
  const idle = lag.read();
  console.log(`  idle 4 s: host event-loop delay max ${idle.max} ms, p99 ${idle.p99} ms`);
  const summary = await analyzeActive();
  const busy = lag.read();
  lag.stop();
  assert.ok(summary.tokens > 10, `summary ${JSON.stringify(summary)}`);
  // Decorations follow the analysis on a short timer.
  let stats = await vscode.commands.executeCommand<Stats>('moeLens.debug.stats');
  for (let i = 0; i < 50 && stats.decorationTypes === 0; i++) {
    await sleep(100);
    stats = await vscode.commands.executeCommand<Stats>('moeLens.debug.stats');
  }
  console.log(`  analysis: ${summary.tokens} tokens in ${summary.ms} ms; host event-loop delay max ${busy.max} ms, p99 ${busy.p99} ms; ${stats.decorationTypes} decoration types`);
  assert.ok(stats.decorationTypes > 0, 'decoration types were made for the colour buckets');
  assert.ok(stats.decorationTypes <= summary.tokens, 'one type per bucket, not per token');
  assert.equal(stats.queueLength, 0);
  assert.ok(stats.enginePid);
});

test('hovers tell the routing, with document text escaped', async () => {
  const editor = await openSample();
  const text = editor.document.getText();
  const at = editor.document.positionAt(text.indexOf('mixture') + 2);
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, at);
  const md = hovers.flatMap((h) => h.contents).map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : '')).join('\n');
  assert.match(md, /MoE Lens/);
  assert.match(md, /top-\d+ of \d+ experts/);
  const img = editor.document.positionAt(text.indexOf('<img') + 1);
  const hostile = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, img);
  for (const h of hostile) {
    for (const c of h.contents) {
      if (c instanceof vscode.MarkdownString) {
        assert.equal(c.isTrusted, false);
        assert.notEqual(c.supportHtml, true);
        assert.doesNotMatch(c.value, /(?<!\\)</);
      }
    }
  }
});

test('selects a layer and exports the trace', async () => {
  await openSample();
  const layer = await vscode.commands.executeCommand<number>('moeLens.selectLayer', 0);
  assert.equal(layer, 0);
  const out = vscode.Uri.file(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'moe-lens-it-')), 'sample.moe-trace.json'));
  await vscode.commands.executeCommand('moeLens.exportTrace', out);
  const trace = JSON.parse(fs.readFileSync(out.fsPath, 'utf8')) as { schema: string; tokens: unknown[] };
  assert.equal(trace.schema, 'moe-lens.trace/1');
  assert.ok(trace.tokens.length > 10);
});

test('a panel selection reveals the token; the editor selection is published', async () => {
  const editor = await openSample();
  const uri = editor.document.uri.toString();
  const text = editor.document.getText();
  await vscode.commands.executeCommand('moeLens.debug.select', { uri, tokenIndex: 5 });
  await sleep(300);
  const sel = editor.selection;
  assert.ok(!sel.isEmpty, 'the token is selected in the editor');
  await vscode.commands.executeCommand('moeLens.debug.select', { layer: 0, expert: 1 });
  const at = editor.document.positionAt(text.indexOf('Second') + 2);
  editor.selection = new vscode.Selection(at, at);
  let stats: { lastSelection: { source: string; tokenIndex: number } | null; highlightedExpert: { expert: number } | null } | undefined;
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    stats = await vscode.commands.executeCommand('moeLens.debug.stats');
    if (stats?.lastSelection?.source === 'editor') {
      break;
    }
  }
  assert.equal(stats?.lastSelection?.source, 'editor');
  assert.ok(stats!.lastSelection!.tokenIndex > 5);
  assert.equal(stats?.highlightedExpert?.expert, 1);
});

test('live mode: typing re-analyses after a pause, the queue never grows', async () => {
  const editor = await openSample();
  await vscode.workspace.getConfiguration('moeLens').update('liveMode', true, vscode.ConfigurationTarget.Global);
  try {
    const uri = editor.document.uri.toString();
    let maxQueue = 0;
    for (let i = 0; i < 10; i++) {
      await editor.edit((b) => b.insert(new vscode.Position(2, 0), `w${i} `));
      const s = await vscode.commands.executeCommand<Stats>('moeLens.debug.stats');
      maxQueue = Math.max(maxQueue, s.queueLength);
      await sleep(100);
    }
    assert.ok(maxQueue <= 2, `queue length ${maxQueue}`);
    const version = editor.document.version;
    let caught = false;
    for (let i = 0; i < 300 && !caught; i++) {
      const s = await vscode.commands.executeCommand<Stats>('moeLens.debug.stats');
      caught = s.analyses[uri]?.version === version;
      if (!caught) {
        await sleep(100);
      }
    }
    assert.ok(caught, 'an analysis of the final text arrived');
    const at = editor.document.positionAt(editor.document.getText().indexOf('w9') + 1);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, at);
    assert.ok(hovers.length > 0, 'the newly typed text has a hover');
  } finally {
    await vscode.workspace.getConfiguration('moeLens').update('liveMode', false, vscode.ConfigurationTarget.Global);
  }
});

test('recovers after the engine is killed', async () => {
  await openSample();
  const pid = await vscode.commands.executeCommand<number | null>('moeLens.debug.killEngine');
  assert.ok(pid);
  await new Promise((r) => setTimeout(r, 300));
  const summary = await analyzeActive();
  assert.ok(summary.tokens > 10);
  const stats = await vscode.commands.executeCommand<Stats>('moeLens.debug.stats');
  assert.ok(stats.enginePid && stats.enginePid !== pid, 'a new engine process runs');
});

export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn();
      console.log(`✔ ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failures.push(name);
      console.log(`✖ ${name}\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log(`${tests.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length > 0) {
    throw new Error(`${failures.length} integration test(s) failed: ${failures.join(', ')}`);
  }
}
