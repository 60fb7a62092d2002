#!/usr/bin/env node
/* global process, console, setTimeout, clearTimeout, URL */
// A "VS Code executable" stand-in for @vscode/test-electron's runTests({ vscodeExecutablePath }) (and
// @vscode/test-cli's useInstallation.fromPath) on machines that cannot download VS Code: it takes
// VS Code's CLI flags, starts code-server (VS Code 1.139 server + workbench, test/e2e/setup.mjs)
// and headless Chromium, runs the extension's tests inside the real extension host through the
// workbench's extensionDevelopmentPath / extensionTestsPath payload, prints their output and exits
// with their code. Use: MOE_LENS_VSCODE_EXECUTABLE=test/e2e/standin/code.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumLaunchOptions } from '../../helpers/chromium.cjs';
import { hostPaths, hostReady } from '../setup.mjs';

const VERSION = '1.139.1';
const TIMEOUT_MS = Number(process.env.MOE_LENS_STANDIN_TIMEOUT_MS ?? 600_000);

function parse(argv) {
  const opts = { devPaths: [], testsPath: undefined, userDataDir: undefined, extensionsDir: undefined, folders: [], disableExtensions: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--version':
      case '-v':
        opts.version = true;
        break;
      case '--extensionDevelopmentPath':
        opts.devPaths.push(resolve(value()));
        break;
      case '--extensionTestsPath':
        opts.testsPath = resolve(value());
        break;
      case '--user-data-dir':
        opts.userDataDir = resolve(value());
        break;
      case '--extensions-dir':
        opts.extensionsDir = resolve(value());
        break;
      case '--disable-extensions':
        opts.disableExtensions = true;
        break;
      case '--locale':
      case '--log':
      case '--crash-reporter-directory':
        value();
        break;
      default:
        if (!a.startsWith('-')) {
          opts.folders.push(resolve(a));
        }
      // Every other VS Code flag (--no-sandbox, --disable-gpu-sandbox, --skip-welcome, …) means
      // nothing to code-server + headless Chromium and is ignored.
    }
  }
  return opts;
}

async function main() {
  const opts = parse(process.argv.slice(2));
  if (opts.version) {
    console.log(`${VERSION}\n0000000000000000000000000000000000000000\nx64`);
    return 0;
  }
  if (!hostReady()) {
    console.error('code-server is not installed: run `node test/e2e/setup.mjs`');
    return 1;
  }
  if (!existsSync(CHROMIUM)) {
    console.error(`no Chromium at ${CHROMIUM}`);
    return 1;
  }
  const paths = hostPaths();
  const dir = mkdtempSync(join(tmpdir(), 'moe-lens-standin-'));
  const sub = (name) => {
    const p = join(dir, name);
    mkdirSync(p, { recursive: true });
    return p;
  };
  const userDataDir = opts.userDataDir ?? sub('user-data');
  const extensionsDir = opts.extensionsDir ?? sub('extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  const settings = join(userDataDir, 'User', 'settings.json');
  if (!existsSync(settings)) {
    writeFileSync(
      settings,
      JSON.stringify({
        'chat.disableAIFeatures': true,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'git.enabled': false,
        'github.gitAuthentication': false,
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': false,
      }),
    );
  }
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  const env = { ...process.env, XDG_CONFIG_HOME: sub('xdg'), XDG_DATA_HOME: sub('xdg'), XDG_CACHE_HOME: sub('xdg'), TMPDIR: sub('tmp') };
  // Run from a node:test file (test/integration): node:test's child-process protocol must not leak
  // into code-server's processes; and no model-hub cache outside the temp folder.
  env.HF_HOME = sub('hf');
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  delete env.ELECTRON_RUN_AS_NODE;
  const args = [
    paths.codeServer,
    '--config', config,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--vscode-option', 'enable-smoke-test-driver',
  ];
  const server = spawn(paths.node, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const killGroup = (signal) => {
    try {
      process.kill(-server.pid, signal);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', () => killGroup('SIGKILL'));
  let browser;
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
      server.once('exit', (code) => fail(new Error(`code-server exited with ${code}:\n${text}`)));
    });
    const authority = new URL(url).host;
    const remote = (p) => `vscode-remote://${authority}${p}`;
    const payload = [];
    for (const p of opts.devPaths) {
      payload.push(['extensionDevelopmentPath', remote(p)]);
    }
    if (opts.testsPath) {
      payload.push(['extensionTestsPath', remote(opts.testsPath)]);
    }
    if (opts.disableExtensions) {
      payload.push(['disableExtensions', 'true']);
    }
    let query = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
    if (opts.folders[0]) {
      query = `folder=${encodeURIComponent(opts.folders[0])}&${query}`;
    }
    browser = await chromium.launch(chromiumLaunchOptions());
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    let finish;
    const exited = new Promise((done) => (finish = done));
    // The workbench's test driver calls these (VS Code's own smoke-test hooks).
    await page.exposeFunction('codeAutomationExit', (code) => finish(Number(code)));
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const line = format(...(Array.isArray(args) ? args : [args]));
      (type === 'error' ? console.error : console.log)(line);
    });
    await page.goto(`${url}/?${query}`);
    if (!opts.testsPath) {
      // No tests: behave like an editor window that stays open until killed.
      console.log(`code-server stand-in running at ${url}/?${query}`);
      await new Promise(() => undefined);
    }
    const timeout = new Promise((done) => setTimeout(() => done('timeout'), TIMEOUT_MS));
    const code = await Promise.race([exited, timeout]);
    if (code === 'timeout') {
      console.error(`the extension tests did not finish within ${TIMEOUT_MS / 1000} s`);
      return 1;
    }
    return code;
  } finally {
    await browser?.close().catch(() => undefined);
    killGroup('SIGTERM');
    await new Promise((done) => setTimeout(done, 1000));
    killGroup('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
