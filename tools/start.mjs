#!/usr/bin/env node
/* global process, console, setTimeout, setInterval, URL */
// `npm start`: opens a real VS Code with MoE Lens installed and a sample document already analysed
// with the embedded model, and prints where. With a `code` binary on PATH that is VS Code itself
// (`code --extensionDevelopmentPath=<repo>`); otherwise code-server in the browser (the same host
// the e2e tests drive), running until Ctrl-C.
// Flags: --port N (code-server's port; default 8765, any free one if taken), --code-server (even
// where `code` exists), --smoke (open it in headless Chromium once, screenshot, exit).
// Runs under tsx (`node --import tsx tools/start.mjs`) because it reuses test/e2e/vscode.ts.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostReady } from '../test/e2e/setup.mjs';
import { preflight } from './preflight.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SAMPLE = 'sample.md';

/** Newest modification time under a folder (or of a file). */
function newest(path) {
  if (!existsSync(path)) {
    return 0;
  }
  const st = statSync(path);
  if (!st.isDirectory()) {
    return st.mtimeMs;
  }
  let max = 0;
  for (const name of readdirSync(path)) {
    max = Math.max(max, newest(join(path, name)));
  }
  return max;
}

function buildIfNeeded() {
  const built = Math.min(newest(join(repo, 'dist', 'extension.js')), newest(join(repo, 'dist', 'engine.js')));
  const sources = Math.max(newest(join(repo, 'src')), newest(join(repo, 'package.json')), newest(join(repo, 'esbuild.js')));
  if (built > sources) {
    return;
  }
  console.log('Building (npm run build)…');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });
  if (r.status !== 0) {
    process.exit(r.status ?? 1);
  }
}

function hasCode() {
  return spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' }).status === 0;
}

/** The port if it is free on 127.0.0.1, else 0 (any free one). */
function freePort(port) {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(0));
    s.listen(port, '127.0.0.1', () => s.close(() => done(port)));
  });
}

/**
 * VS Code itself: a development window on a copy of the sample workspace, with the e2e probe as a
 * second development extension that opens and analyses the sample ($MOE_LENS_START_OPEN).
 */
async function startInVsCode() {
  const dir = mkdtempSync(join(tmpdir(), 'moe-lens-start-'));
  const ws = join(dir, 'workspace');
  cpSync(join(repo, 'test', 'e2e', 'workspace'), ws, { recursive: true });
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'moeLens.analyzeOnOpen': true }, null, 2));
  const { buildProbe } = await import('../test/e2e/vscode.ts');
  const probe = await buildProbe(dir);
  const child = spawn(
    'code',
    ['--new-window', `--extensionDevelopmentPath=${repo}`, `--extensionDevelopmentPath=${probe}`, ws, join(ws, SAMPLE)],
    { stdio: 'inherit', env: { ...process.env, MOE_LENS_START_OPEN: join(ws, SAMPLE) } },
  );
  child.on('exit', (code) => {
    console.log(`\nMoE Lens is open in VS Code (an Extension Development Host window) on ${join(ws, SAMPLE)}.`);
    console.log('If the document is not coloured yet, run "MoE Lens: Analyze Current Document" (F1).');
    process.exit(code ?? 0);
  });
}

async function startInCodeServer() {
  const { ensureHost } = await import('../test/e2e/setup.mjs');
  const host = ensureHost();
  if (host.seconds > 1) {
    console.log(`code-server installed in ${host.seconds.toFixed(0)} s (cached in ${host.cache})`);
  }
  const { startVsCode, unavailableReason } = await import('../test/e2e/vscode.ts');
  const requested = Number(option('--port') ?? 8765);
  const port = await freePort(requested);
  const smoke = flag('--smoke');
  if (smoke && (await unavailableReason())) {
    console.error(`--smoke: ${await unavailableReason()}`);
    process.exit(1);
  }
  process.env.MOE_LENS_E2E_QUIET = '1';
  const vs = await startVsCode({
    workspace: join(repo, 'test', 'e2e', 'workspace'),
    settings: { 'moeLens.analyzeOnOpen': true },
    browser: false,
    probe: false,
    openOnStart: SAMPLE,
    port,
  });
  let closing = false;
  const stop = async () => {
    if (closing) {
      return;
    }
    closing = true;
    console.log('\nStopping code-server…');
    await vs.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);

  if (smoke) {
    const page = await vs.openBrowser();
    const deadline = Date.now() + 120_000;
    let count = 0;
    while (Date.now() < deadline && count === 0) {
      count = (await vs.backgroundDecorations()).count;
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const shot = await vs.screenshot('start');
    console.log(`--smoke: ${count} highlighted ranges in ${await page.title()}; screenshot ${shot}`);
    await vs.close();
    process.exit(count > 0 ? 0 : 1);
  }

  console.log('');
  console.log('MoE Lens is running in a real VS Code (code-server, VS Code 1.139) with the extension installed.');
  console.log(`Open:  ${vs.workbenchUrl}`);
  console.log(`       ${SAMPLE} opens and is analysed with the embedded model (models/demo) in each new window.`);
  console.log('From another machine: ssh -L ' + `${new URL(vs.url).port}:127.0.0.1:${new URL(vs.url).port} <this host>, then the same URL.`);
  console.log('Press Ctrl-C to stop.');
  // Keep running until a signal; the server is a child in its own process group.
  setInterval(() => undefined, 1 << 30);
}

const inVsCode = hasCode() && !flag('--code-server') && !flag('--smoke');
if (!inVsCode) {
  // Before minutes of building and installing: say what the system lacks (or install it as root).
  const problem = preflight({ hostInstall: !hostReady(), smoke: flag('--smoke') });
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
buildIfNeeded();
if (inVsCode) {
  await startInVsCode();
} else {
  await startInCodeServer();
}
