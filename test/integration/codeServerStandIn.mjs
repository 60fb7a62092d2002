#!/usr/bin/env node
/* global process, console, URL, setTimeout, clearTimeout -- a Node script; the lint config declares no globals for .mjs */
// A "VS Code executable" for @vscode/test-electron's runTests on machines that cannot download
// VS Code: takes VS Code's CLI flags, runs the extension's tests in code-server (the e2e host,
// test/e2e/setup.mjs) opened in headless Chromium, and exits with the tests' exit code.
// Recipe: shared/design/e2e-vscode.md ("Load the extension", payload + smoke-test driver).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { format } from 'node:util';

const args = process.argv.slice(2);
if (args.includes('--version')) {
  console.log('1.139.1\ncode-server-stand-in\nx64');
  process.exit(0);
}
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const devPath = flag('extensionDevelopmentPath');
const testsPath = flag('extensionTestsPath');
const workspace = args.find((a) => !a.startsWith('-'));
if (!devPath || !testsPath) {
  console.error('stand-in: needs --extensionDevelopmentPath= and --extensionTestsPath=');
  process.exit(2);
}
const TIMEOUT_MS = Number(process.env.MOE_LENS_STANDIN_TIMEOUT_MS ?? 240_000);
const { hostPaths, hostReady } = await import(resolve(import.meta.dirname, '..', 'e2e', 'setup.mjs'));
if (!hostReady()) {
  console.error('stand-in: the e2e host is not installed (node test/e2e/setup.mjs)');
  process.exit(2);
}
const paths = hostPaths();
const dir = mkdtempSync(join(tmpdir(), 'moe-lens-standin-'));
const sub = (n) => {
  const p = join(dir, n);
  mkdirSync(p, { recursive: true });
  return p;
};
const userData = flag('user-data-dir') ?? sub('user-data');
mkdirSync(join(userData, 'User'), { recursive: true });
writeFileSync(
  join(userData, 'User', 'settings.json'),
  JSON.stringify({ 'telemetry.telemetryLevel': 'off', 'chat.disableAIFeatures': true, 'extensions.autoUpdate': false, 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false }),
);
writeFileSync(join(dir, 'config.yaml'), 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
const env = { ...process.env, XDG_CONFIG_HOME: sub('xdg'), XDG_DATA_HOME: sub('xdg'), XDG_CACHE_HOME: sub('xdg'), TMPDIR: sub('tmp'), HF_HOME: sub('hf') };
delete env.NODE_OPTIONS;
delete env.NODE_TEST_CONTEXT;
delete env.ELECTRON_RUN_AS_NODE;
const server = spawn(
  paths.node,
  [paths.codeServer, '--config', join(dir, 'config.yaml'), '--user-data-dir', userData, '--extensions-dir', sub('extensions'), '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--vscode-option', 'enable-smoke-test-driver', ...(workspace ? [workspace] : [])],
  { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
);
let browser;
const cleanup = async () => {
  await browser?.close().catch(() => undefined);
  try {
    process.kill(-server.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
};
let code = 1;
try {
  const url = await new Promise((done, fail) => {
    let text = '';
    const timer = setTimeout(() => fail(new Error(`code-server did not start:\n${text}`)), 60_000);
    const onData = (chunk) => {
      text += chunk.toString();
      const m = /HTTP server listening on (http:\/\/[^\s/]+)\//.exec(text);
      if (m) {
        clearTimeout(timer);
        done(m[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.once('exit', (c) => fail(new Error(`code-server exited with ${c}:\n${text}`)));
  });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: process.env.MOE_LENS_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  const exited = new Promise((done) => {
    void page.exposeFunction('codeAutomationExit', (c) => done(Number(c)));
  });
  await page.exposeFunction('codeAutomationLog', (_type, logArgs) => console.log(format(...(Array.isArray(logArgs) ? logArgs : [logArgs]))));
  const host = new URL(url).host;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', `vscode-remote://${host}${resolve(devPath)}`],
    ['extensionTestsPath', `vscode-remote://${host}${resolve(testsPath)}`],
  ]);
  await page.goto(`${url}/?${workspace ? `folder=${encodeURIComponent(resolve(workspace))}&` : ''}payload=${encodeURIComponent(payload)}`);
  code = await Promise.race([exited, new Promise((done) => setTimeout(() => done(124), TIMEOUT_MS))]);
  if (code === 124) {
    console.error(`stand-in: the tests did not finish within ${TIMEOUT_MS / 1000} s`);
  }
} catch (err) {
  console.error(`stand-in: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
