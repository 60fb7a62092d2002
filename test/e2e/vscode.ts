/**
 * @file The end-to-end harness: a REAL VS Code (code-server, VS Code 1.139 server + workbench) on
 * Node 24, with the packaged extension installed, driven in Debian's headless Chromium through
 * playwright-core. Recipe: shared/design/e2e-vscode.md. Everything a run writes lives in one temp
 * folder; the server runs in its own process group and is always killed as a group.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { CHROMIUM, chromiumLaunchOptions } from '../helpers/chromium.cjs';

export const REPO = resolve(__dirname, '..', '..');
export const ARTIFACTS = join(REPO, 'test', 'e2e', 'artifacts');

/** Settings that keep the workbench quiet and offline-friendly. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'editor.wordWrap': 'on',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'editor.hover.delay': 150,
  'editor.minimap.enabled': false,
  'window.commandCenter': false,
  'git.enabled': false,
  'files.autoSave': 'off',
};

/** setup.mjs is ESM (so .ci/run runs it without tsx); this package's .ts files are CommonJS. */
async function setup(): Promise<typeof import('./setup.mjs', { with: { 'resolution-mode': 'import' } })> {
  return import('./setup.mjs');
}

/** Why the e2e suite cannot run here, or null when it can. */
export async function unavailableReason(): Promise<string | null> {
  if (process.platform !== 'linux') {
    return `e2e needs Linux (code-server + Debian chromium); this is ${process.platform}`;
  }
  if (!existsSync(CHROMIUM)) {
    return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  }
  if (!(await setup()).hostReady()) {
    return 'the e2e host (Node 24 + code-server) is not installed: run `node test/e2e/setup.mjs`';
  }
  return null;
}

function log(msg: string): void {
  if (process.env.MOE_LENS_E2E_QUIET !== '1') {
    console.log(`[e2e] ${msg}`);
  }
}

/** Packages the built extension (dist/, media/, models/demo/) into a .vsix; returns its path. */
export function packageExtension(outDir: string): string {
  const out = join(outDir, 'moe-lens.vsix');
  const vsce = join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce');
  // dist/ bundles every dependency, so node_modules stays out (--no-dependencies).
  const args = [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--allow-star-activation', '-o', out];
  // A retry: a file rewritten while vsce zips it (a concurrent `npm run build`) fails the zip.
  let failure = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8' });
    if (r.status === 0) {
      return out;
    }
    failure = `${r.stdout}\n${r.stderr}`;
  }
  throw new Error(`vsce package failed:\n${failure}`);
}

/** Bundles test/e2e/probe into an extension folder (package.json + extension.js); returns it. */
export async function buildProbe(outDir: string): Promise<string> {
  const dir = join(outDir, 'probe');
  mkdirSync(dir, { recursive: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(REPO, 'test', 'e2e', 'probe', 'extension.ts')],
    outfile: join(dir, 'extension.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'moe-lens-e2e-probe',
      displayName: 'MoE Lens e2e probe',
      description: 'Test-only: measures the extension host and runs commands for test/e2e.',
      version: '0.0.1',
      publisher: 'moe-lens-e2e',
      license: 'MIT',
      engines: { vscode: '^1.90.0' },
      main: './extension.js',
      activationEvents: ['onStartupFinished'],
    }),
  );
  writeFileSync(join(dir, 'README.md'), '# MoE Lens e2e probe\n\nTest-only helper extension.\n');
  return dir;
}

/** Bundles and packages test/e2e/probe into its own .vsix. */
export async function packageProbe(outDir: string): Promise<string> {
  const dir = await buildProbe(outDir);
  const out = join(outDir, 'probe.vsix');
  const vsce = join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [vsce, 'package', '--allow-missing-repository', '--skip-license', '-o', out], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(`vsce package (probe) failed:\n${r.stdout}\n${r.stderr}`);
  }
  return out;
}

export interface StartOptions {
  /** Folder copied into the run's temp dir and opened as the workspace. */
  workspace?: string;
  /** Extra user settings (merged over QUIET_SETTINGS). */
  settings?: Record<string, unknown>;
  /** Extension .vsix files to install; default: the packaged repo extension + the probe. */
  vsix?: string[];
  /** Port for code-server (0 = any free one). */
  port?: number;
  /** Start Chromium and open the workbench (default true). */
  browser?: boolean;
  /** Keep the temp dir after close (default: only when MOE_LENS_E2E_KEEP=1). */
  keep?: boolean;
  /** Let the probe serve the test over HTTP (default true; `npm start` turns it off). */
  probe?: boolean;
  /** A workspace file the probe opens and analyses in every new window (`npm start`). */
  openOnStart?: string;
  /**
   * Run MoE Lens from its installed (packaged) files as a development extension, so it is in
   * ExtensionMode.Development and registers its test commands (moeLens.debug.*). An installed
   * extension runs in Production mode and has none. Default: when the probe serves the test.
   */
  testCommands?: boolean;
}

export interface ProbeLag {
  durationMs: number;
  histogram: { count: number; maxMs: number; p99Ms: number; p50Ms: number; meanMs: number };
  timer: { ticks: number; maxMs: number; p99Ms: number; over50: number };
  /** Stalls over 50 ms: when (ms after the start) and how long (the first 50). */
  stalls: { t: number; ms: number; cpuMs: number }[];
  stats: { t: number; value: unknown }[];
}

/** One running VS Code: the server, its browser page and the probe inside its extension host. */
export class VsCode {
  browser: Browser | undefined;
  page!: Page;
  url = '';
  probePort = 0;
  private probeToken = '';
  private closed = false;
  /** The installed extension's folder, loaded as a development extension (see testCommands). */
  developmentExtension: string | undefined;
  private readonly onExit = (): void => this.killGroup('SIGKILL');

  constructor(
    readonly dir: string,
    readonly workspace: string,
    readonly userDataDir: string,
    readonly server: ChildProcess,
    readonly serverLog: string,
    private readonly keep: boolean,
  ) {
    process.on('exit', this.onExit);
  }

  /** The workbench URL with the workspace folder open. */
  get workbenchUrl(): string {
    const folder = `${this.url}/?folder=${encodeURIComponent(this.workspace)}`;
    if (!this.developmentExtension) {
      return folder;
    }
    // The web workbench's own switch for an Extension Development Host window.
    const remote = `vscode-remote://${new URL(this.url).host}${this.developmentExtension}`;
    return `${folder}&payload=${encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', remote]]))}`;
  }

  /** Starts headless Chromium on the workbench and waits for it to load. */
  async openBrowser(): Promise<Page> {
    this.browser = await chromium.launch(chromiumLaunchOptions());
    const context = await this.browser.newContext({ viewport: { width: 1440, height: 900 } });
    this.page = await context.newPage();
    await this.page.goto(this.workbenchUrl);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    return this.page;
  }

  /** Calls the probe extension (JSON over HTTP inside the extension host). */
  async probe<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> {
    if (!this.probePort) {
      await this.waitForProbe();
    }
    const res = await fetch(`http://127.0.0.1:${this.probePort}${path}`, {
      method: 'POST',
      headers: { 'x-probe-token': this.probeToken },
      body: JSON.stringify(body),
    });
    const value = (await res.json()) as T & { error?: string };
    if (!res.ok) {
      throw new Error(`probe ${path}: ${value.error ?? res.status}`);
    }
    return value;
  }

  /** Waits until the extension host has started the probe (it writes its port to a file). */
  async waitForProbe(timeoutMs = 60_000): Promise<void> {
    const file = join(this.dir, 'probe.json');
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (existsSync(file)) {
        try {
          const info = JSON.parse(readFileSync(file, 'utf8')) as { port: number; token: string };
          this.probeToken = info.token;
          this.probePort = info.port;
          return;
        } catch {
          // Half-written; try again.
        }
      }
      await sleep(200);
    }
    throw new Error(`the probe extension did not start in ${timeoutMs} ms (log: ${this.serverLog})`);
  }

  /** Runs a command by id inside the extension host and returns its result. */
  async exec<T = unknown>(command: string, ...args: unknown[]): Promise<T> {
    return (await this.probe<{ result: T }>('/exec', { command, args })).result;
  }

  /** Runs a command from the command palette by its title, as a person would. */
  async runCommand(title: string): Promise<void> {
    const page = this.page;
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    const rows = page.locator('.quick-input-list .monaco-list-row');
    await rows.filter({ hasText: title }).first().waitFor({ state: 'visible', timeout: 10_000 });
    // Walk the keyboard focus to the matching row (a mouse click on the list is not reliable).
    const labels = await rows.allInnerTexts();
    const index = labels.findIndex((l) => l.includes(title));
    for (let i = 0; i < index; i++) {
      await page.keyboard.press('ArrowDown');
    }
    await page.keyboard.press('Enter');
  }

  /** The workspace file last opened with openFile: editor DOM queries look at its editor only. */
  currentFile: string | undefined;

  /** Opens a file of the workspace in the editor (through the probe: this is set-up, not a check). */
  async openFile(relPath: string): Promise<void> {
    await this.probe('/open', { path: join(this.workspace, relPath) });
    this.currentFile = relPath;
    await this.page.locator(`${await this.editorScope()} .view-lines`).first().waitFor({ timeout: 20_000 });
  }

  /**
   * CSS scope of the editor showing `file` (default: the current file): the element the workbench
   * marks with the model's URI, so a second editor group never answers for it.
   */
  async editorScope(file = this.currentFile): Promise<string> {
    if (file) {
      const scoped = `[data-uri$="/${file.replace(/"/g, '')}"]`;
      if (await this.page.$(`${scoped} .view-lines`)) {
        return scoped;
      }
    }
    return '.editor-instance';
  }

  /** Screen centre of the nth occurrence of `text` in the visible editor lines, or null. */
  async textPoint(text: string, nth = 0): Promise<{ x: number; y: number } | null> {
    const scope = await this.editorScope();
    return (await this.page.evaluate(`(${FIND_TEXT_JS})(${JSON.stringify({ text, nth, scope })})`)) as {
      x: number;
      y: number;
    } | null;
  }

  /** Hovers the nth occurrence of `text` in the editor and returns the hover's text. */
  async hover(text: string, nth = 0, timeoutMs = 10_000): Promise<string> {
    const page = this.page;
    const point = await this.textPoint(text, nth);
    if (!point) {
      throw new Error(`"${text}" is not visible in the editor`);
    }
    await page.mouse.move(point.x - 40, point.y + 200);
    await sleep(100);
    await page.mouse.move(point.x, point.y, { steps: 3 });
    const hover = page.locator('.monaco-hover:not(.hidden) .monaco-hover-content, .monaco-hover-content').first();
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await hover.isVisible().catch(() => false)) {
        const text = await hover.innerText();
        if (text.trim()) {
          return text;
        }
      }
      await sleep(150);
    }
    throw new Error(`no hover appeared over "${text}"`);
  }

  /** Decorations with a background colour in the visible editor: count and distinct colours. */
  async backgroundDecorations(): Promise<{ count: number; colors: string[] }> {
    const scope = await this.editorScope();
    return (await this.page.evaluate(`(${DECORATIONS_JS})(${JSON.stringify(scope)})`)) as { count: number; colors: string[] };
  }

  /**
   * Starts watching, inside the page, for more than `min` editor decorations in the editor of `file`;
   * `decorationsSeenAt()` then gives the Date.now() of the DOM change that put them there.
   * For timing: polling from here with `backgroundDecorations` costs the renderer CPU it is measured on.
   */
  async watchDecorations(file: string, min: number): Promise<void> {
    await this.page.evaluate(`(${WATCH_DECORATIONS_JS})(${JSON.stringify(`[data-uri$="/${file.replace(/"/g, '')}"]`)}, ${min})`);
  }

  async decorationsSeenAt(): Promise<number | null> {
    return (await this.page.evaluate('window.__moeLensSeenAt ?? null')) as number | null;
  }

  /** Background decorations on the cursor's (visual) line: highlights for what was just typed. */
  async decorationsAtCursor(): Promise<number> {
    const scope = await this.editorScope();
    return (await this.page.evaluate(`(${CURSOR_DECORATIONS_JS})(${JSON.stringify(scope)})`)) as number;
  }

  /**
   * The first webview frame whose document has `selector` (and whose text matches `text`, when
   * given). Webview content sits in nested iframes.
   */
  async webviewFrame(selector: string, timeoutMs = 30_000, text?: RegExp): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      for (const frame of this.page.frames()) {
        if (frame === this.page.mainFrame() || frame.isDetached()) {
          continue;
        }
        const found = await frame.$(selector).catch(() => null);
        if (!found) {
          continue;
        }
        if (!text || text.test(await frame.locator('body').innerText({ timeout: 2000 }).catch(() => ''))) {
          return frame;
        }
      }
      await sleep(300);
    }
    throw new Error(`no webview frame with ${selector}`);
  }

  /**
   * Text of the notifications: toasts may not show in this workbench, so this opens the
   * Notification Center (and closes it again) to read them.
   */
  async notifications(): Promise<string[]> {
    await this.exec('notifications.showList');
    await sleep(300);
    const texts = await this.page
      .locator('.notification-toast .notification-list-item-message, .notifications-center .notification-list-item-message')
      .allInnerTexts();
    await this.exec('notifications.hideList');
    return texts;
  }

  /** Saves a screenshot under test/e2e/artifacts/; returns its path. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  /** The extension host's logs, its output channels (MoE Lens's own log) included, last chars. */
  extensionHostLog(maxChars = 4000): string {
    const script = 'find "$1/logs" -path "*exthost*" -name "*.log" | sort | while IFS= read -r f; do echo "=== $f"; cat "$f"; done';
    const found = spawnSync('sh', ['-c', script, 'sh', this.userDataDir], { encoding: 'utf8' }).stdout ?? '';
    return found.slice(-maxChars);
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (this.server.pid === undefined) {
      return;
    }
    try {
      process.kill(-this.server.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Closes the browser and kills the server's whole process group; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await Promise.race([this.browser?.close().catch(() => undefined), sleep(5000)]);
    this.killGroup('SIGTERM');
    const exited = new Promise<void>((done) => {
      if (this.server.exitCode !== null || this.server.signalCode !== null) {
        done();
      } else {
        this.server.once('exit', () => done());
      }
    });
    await Promise.race([exited, sleep(3000)]);
    // The extension host and the engine are in the same group and may outlive a SIGTERM.
    this.killGroup('SIGKILL');
    process.off('exit', this.onExit);
    if (!this.keep) {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Starts code-server with the extension installed, then (by default) the browser on it. */
export async function startVsCode(opts: StartOptions = {}): Promise<VsCode> {
  const paths = (await setup()).hostPaths();
  const keep = opts.keep ?? process.env.MOE_LENS_E2E_KEEP === '1';
  const dir = mkdtempSync(join(tmpdir(), 'moe-lens-e2e-'));
  const sub = (name: string): string => {
    const p = join(dir, name);
    mkdirSync(p, { recursive: true });
    return p;
  };
  const xdg = sub('xdg');
  const tmp = sub('tmp');
  const userDataDir = sub('user-data');
  const extensionsDir = sub('extensions');
  const workspace = sub('workspace');
  if (opts.workspace) {
    cpSync(opts.workspace, workspace, { recursive: true });
  }
  // The browser workbench is a remote window of this server: machine-scoped settings (a model
  // path) count only from the server's Machine settings, so both files get them.
  for (const scope of ['User', 'Machine']) {
    mkdirSync(join(userDataDir, scope), { recursive: true });
    writeFileSync(join(userDataDir, scope, 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...opts.settings }, null, 2));
  }
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `bind-addr: 127.0.0.1:${opts.port ?? 0}\nauth: none\ncert: false\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: xdg,
    XDG_DATA_HOME: xdg,
    XDG_CACHE_HOME: xdg,
    TMPDIR: tmp,
  };
  if (opts.probe !== false) {
    env.MOE_LENS_E2E_PROBE_FILE = join(dir, 'probe.json');
    // Tests see an empty Hugging Face cache, whatever this machine has downloaded.
    env.HF_HOME = join(dir, 'hf');
  }
  if (opts.openOnStart) {
    env.MOE_LENS_START_OPEN = join(workspace, opts.openOnStart);
  }
  // Our own test runner's flags must not leak into code-server's Node 24.
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  delete env.ELECTRON_RUN_AS_NODE;
  const common = ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

  const t0 = Date.now();
  let vsix = opts.vsix;
  try {
    if (!vsix) {
      vsix = [packageExtension(dir), await packageProbe(dir)];
    }
    if (vsix.length) {
      const args = [paths.codeServer, ...common];
      for (const v of vsix) {
        args.push('--install-extension', v);
      }
      const r = spawnSync(paths.node, args, { env, encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) {
        throw new Error(`installing ${vsix.join(', ')} failed:\n${r.stdout}\n${r.stderr}`);
      }
    }
  } catch (err) {
    if (!keep) {
      rmSync(dir, { recursive: true, force: true });
    }
    throw err;
  }
  log(`packaged + installed ${vsix.length} extension(s) in ${Date.now() - t0} ms`);

  const serverLog = join(dir, 'code-server.log');
  const server = spawn(
    paths.node,
    [
      paths.codeServer,
      ...common,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--vscode-option',
      'enable-smoke-test-driver',
      workspace,
    ],
    { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const vscode = new VsCode(dir, workspace, userDataDir, server, serverLog, keep);
  if (opts.testCommands ?? opts.probe !== false) {
    vscode.developmentExtension = installedExtension(extensionsDir);
  }
  try {
    vscode.url = await new Promise<string>((done, fail) => {
      let text = '';
      const timer = setTimeout(() => fail(new Error(`code-server did not report its port:\n${text}`)), 60_000);
      const onData = (chunk: Buffer): void => {
        text += chunk.toString('utf8');
        writeFileSync(serverLog, text);
        const m = /HTTP server listening on (http:\/\/[^\s/]+)\//.exec(text);
        if (m) {
          clearTimeout(timer);
          done(m[1]);
        }
      };
      server.stdout?.on('data', onData);
      server.stderr?.on('data', onData);
      server.once('exit', (code) => fail(new Error(`code-server exited with ${code}:\n${text}`)));
    });
    // Keep draining its output so the pipes never fill.
    server.stdout?.on('data', () => undefined);
    server.stderr?.on('data', () => undefined);
    log(`code-server at ${vscode.url} (${Date.now() - t0} ms)`);
    if (opts.browser !== false) {
      await vscode.openBrowser();
      if (opts.probe !== false) {
        await vscode.waitForProbe();
      }
      log(`workbench + extension host up (${Date.now() - t0} ms)`);
    }
    return vscode;
  } catch (err) {
    await vscode.close();
    throw err;
  }
}

/** The folder code-server installed MoE Lens's .vsix into, if it did. */
function installedExtension(extensionsDir: string): string | undefined {
  const { name, publisher } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; publisher: string };
  const found = readdirSync(extensionsDir).find((d) => d.toLowerCase().startsWith(`${publisher}.${name}-`.toLowerCase()));
  return found && join(extensionsDir, found);
}

export function ensureDir(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

// Browser-side scripts are strings, so nothing the TypeScript loader adds to functions
// (helpers such as __name) reaches the page.

/** (args: {text, nth}) → centre of that text in the visible editor lines, or null. */
const FIND_TEXT_JS = `({ text, nth, scope }) => {
  const lines = [...document.querySelectorAll(scope + ' .view-lines .view-line')]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
  let seen = 0;
  for (const line of lines) {
    const nodes = [];
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    let full = '';
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      nodes.push({ node: n, start: full.length });
      full += n.data.replace(/\\u00a0/g, ' ');
    }
    let from = 0;
    for (;;) {
      const at = full.indexOf(text, from);
      if (at < 0) break;
      from = at + 1;
      if (seen++ < nth) continue;
      const locate = (offset) => {
        for (let i = nodes.length - 1; i >= 0; i--) {
          if (nodes[i].start <= offset) return { node: nodes[i].node, offset: offset - nodes[i].start };
        }
        return null;
      };
      const a = locate(at);
      const b = locate(at + text.length - 1);
      if (!a || !b) return null;
      const range = document.createRange();
      range.setStart(a.node, a.offset);
      range.setEnd(b.node, b.offset + 1);
      const r = range.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    }
  }
  return null;
}`;

/** () → {count, colors}: editor overlay decorations with a non-transparent background. */
const DECORATIONS_JS = `(scope) => {
  const els = document.querySelectorAll(scope + ' .view-overlays div[class*="ced-"], ' + scope + ' .view-lines span[class*="ced-"]');
  const colors = new Set();
  let count = 0;
  for (const el of els) {
    const bg = getComputedStyle(el).backgroundColor;
    if (!bg || bg === 'transparent' || bg === 'rgba(0, 0, 0, 0)') continue;
    count++;
    colors.add(bg);
  }
  return { count, colors: [...colors] };
}`;

/**
 * (scope, min) → sets window.__moeLensSeenAt when the scope first shows more than min decorations. A
 * MutationObserver, not a frame loop: requestAnimationFrame would keep the (software-rendered) page
 * producing frames and take CPU from what is being measured.
 */
const WATCH_DECORATIONS_JS = `(scope, min) => {
  window.__moeLensSeenAt = undefined;
  window.__moeLensWatch?.disconnect();
  const watch = new MutationObserver(() => {
    if (document.querySelectorAll(scope + ' .view-overlays div[class*="ced-"]').length > min) {
      window.__moeLensSeenAt = Date.now();
      watch.disconnect();
    }
  });
  window.__moeLensWatch = watch;
  watch.observe(document.body, { childList: true, subtree: true });
}`;

/** () → number of background decorations overlapping the cursor's line, left of the cursor. */
const CURSOR_DECORATIONS_JS = `(scope) => {
  const cursor = document.querySelector(scope + ' .cursors-layer .cursor');
  if (!cursor) return -1;
  const c = cursor.getBoundingClientRect();
  const y = c.top + c.height / 2;
  let count = 0;
  for (const el of document.querySelectorAll(scope + ' .view-overlays div[class*="ced-"]')) {
    const r = el.getBoundingClientRect();
    const bg = getComputedStyle(el).backgroundColor;
    if (!bg || bg === 'transparent' || bg === 'rgba(0, 0, 0, 0)') continue;
    if (r.top <= y && r.bottom >= y && r.left < c.left) count++;
  }
  return count;
}`;
