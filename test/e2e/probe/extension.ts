/**
 * @file A test-only extension installed beside MoE Lens in the e2e VS Code. It runs in the SAME
 * extension host process as MoE Lens, so it can measure that event loop's delay directly, run any
 * command (hidden ones too) and return its result, and list the host's child processes (the
 * engine). It answers JSON over HTTP on 127.0.0.1 and writes its port to $MOE_LENS_E2E_PROBE_FILE.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import * as vscode from 'vscode';

interface LagRun {
  histogram: IntervalHistogram;
  timer: NodeJS.Timeout;
  statsTimer: NodeJS.Timeout | undefined;
  gaps: number[];
  /**
   * Stalls over 50 ms: when (ms after start), how long, and the CPU this process used meanwhile
   * (close to `ms`: it was busy; far below: the machine did not schedule it).
   */
  stalls: { t: number; ms: number; cpuMs: number }[];
  stats: { t: number; value: unknown }[];
  started: number;
}

let lag: LagRun | undefined;
const TICK_MS = 10;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) {
    return 0;
  }
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Starts two independent lag meters: Node's histogram and a 10 ms timer's overshoot. */
function startLag(statsCommand: string | undefined, statsEveryMs: number): void {
  stopLag();
  const histogram = monitorEventLoopDelay({ resolution: TICK_MS });
  histogram.enable();
  const gaps: number[] = [];
  const stalls: LagRun['stalls'] = [];
  const started = performance.now();
  let last = started;
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const gap = Math.max(0, now - last - TICK_MS);
    gaps.push(gap);
    if (gap > 50) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      stalls.push({ t: Math.round(last - started), ms: Math.round(gap), cpuMs: Math.round(cpuMs) });
    }
    last = now;
    lastCpu = cpu;
  }, TICK_MS);
  const stats: LagRun['stats'] = [];
  let statsTimer: NodeJS.Timeout | undefined;
  if (statsCommand) {
    statsTimer = setInterval(() => {
      vscode.commands.executeCommand(statsCommand).then(
        (value) => stats.push({ t: Math.round(performance.now() - started), value }),
        (err: unknown) => stats.push({ t: Math.round(performance.now() - started), value: String(err) }),
      );
    }, statsEveryMs);
  }
  lag = { histogram, timer, statsTimer, gaps, stalls, stats, started };
}

function stopLag(): Record<string, unknown> | undefined {
  if (!lag) {
    return undefined;
  }
  const { histogram, timer, statsTimer, gaps, stalls, stats, started } = lag;
  lag = undefined;
  clearInterval(timer);
  if (statsTimer) {
    clearInterval(statsTimer);
  }
  histogram.disable();
  const sorted = [...gaps].sort((a, b) => a - b);
  const ms = (ns: number): number => Math.round((ns / 1e6) * 10) / 10;
  return {
    durationMs: Math.round(performance.now() - started),
    // monitorEventLoopDelay: delay beyond the timer's resolution, in ns.
    histogram: {
      count: histogram.count,
      maxMs: ms(histogram.max),
      p99Ms: ms(histogram.percentile(99)),
      p50Ms: ms(histogram.percentile(50)),
      meanMs: ms(histogram.mean),
    },
    // Overshoot of a 10 ms interval: a stall shows as one large gap.
    timer: {
      ticks: gaps.length,
      maxMs: Math.round(percentile(sorted, 100) * 10) / 10,
      p99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
      over50: gaps.filter((g) => g > 50).length,
    },
    stalls: stalls.slice(0, 50),
    stats,
  };
}

let profiler: Session | undefined;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((done, fail) =>
    session.post(method, params ?? {}, (err, result) => (err ? fail(err) : done(result as T))),
  );
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Starts the V8 CPU profiler inside this extension host (opt-in: it slows the host a little). */
async function startProfile(): Promise<void> {
  profiler?.disconnect();
  profiler = new Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  await post(profiler, 'Profiler.setSamplingInterval', { interval: 500 });
  await post(profiler, 'Profiler.start');
}

/** Stops the profiler, writes the .cpuprofile, returns the functions with the most self time. */
async function stopProfile(file: string | undefined): Promise<unknown> {
  if (!profiler) {
    return { error: 'not started' };
  }
  const { profile } = await post<{ profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } }>(
    profiler,
    'Profiler.stop',
  );
  profiler.disconnect();
  profiler = undefined;
  if (file) {
    writeFileSync(file, JSON.stringify(profile));
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    const key = f ? `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '?';
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  return { top: top.map(([fn, ms]) => ({ fn, ms: Math.round(ms) })) };
}

/** The extension host's child processes (pid + command line), from /proc. */
function children(): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) {
        continue;
      }
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === process.pid) {
          const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
          out.push({ pid: Number(name), cmd });
        }
      } catch {
        // The process ended while we looked.
      }
    }
  } catch {
    // No /proc: fall back to ps.
    const text = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    for (const line of text.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m) {
        out.push({ pid: Number(m[1]), cmd: m[2] });
      }
    }
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function handle(path: string, body: Record<string, unknown>): Promise<unknown> {
  switch (path) {
    case '/ping':
      return { pid: process.pid, node: process.version };
    case '/exec': {
      const args = Array.isArray(body.args) ? body.args : [];
      const result: unknown = await vscode.commands.executeCommand(String(body.command), ...args);
      return { result: result === undefined ? null : result };
    }
    case '/commands':
      return { commands: (await vscode.commands.getCommands(true)).filter((c) => c.startsWith(String(body.prefix ?? ''))) };
    case '/open': {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(String(body.path)));
      await vscode.window.showTextDocument(doc, { preview: false });
      return { lineCount: doc.lineCount, length: doc.getText().length, languageId: doc.languageId };
    }
    case '/activeEditor': {
      const ed = vscode.window.activeTextEditor;
      return ed
        ? {
            path: ed.document.uri.fsPath,
            version: ed.document.version,
            length: ed.document.getText().length,
            dirty: ed.document.isDirty,
          }
        : { path: null };
    }
    case '/document': {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === String(body.path));
      return doc ? { version: doc.version, length: doc.getText().length, dirty: doc.isDirty } : { missing: true };
    }
    case '/selections':
      // Every visible editor's selection (a webview click leaves focus in the webview).
      return {
        editors: vscode.window.visibleTextEditors.map((ed) => ({
          path: ed.document.uri.fsPath,
          start: ed.document.offsetAt(ed.selection.start),
          text: ed.document.getText(ed.selection),
        })),
      };
    case '/config': {
      const cfg = vscode.workspace.getConfiguration(String(body.section ?? ''));
      if ('value' in body) {
        await cfg.update(String(body.key), body.value, vscode.ConfigurationTarget.Global);
      }
      return { value: cfg.get(String(body.key)) ?? null };
    }
    case '/extension': {
      const ext = vscode.extensions.getExtension(String(body.id));
      return ext ? { active: ext.isActive, path: ext.extensionPath, version: ext.packageJSON.version } : { missing: true };
    }
    case '/lag/start':
      startLag(typeof body.statsCommand === 'string' ? body.statsCommand : undefined, Number(body.statsEveryMs ?? 500));
      return { ok: true };
    case '/lag/stop':
      return stopLag() ?? { error: 'not started' };
    case '/profile/start':
      await startProfile();
      return { ok: true };
    case '/profile/stop':
      return stopProfile(typeof body.file === 'string' ? body.file : undefined);
    case '/children':
      return { children: children() };
    case '/kill': {
      process.kill(Number(body.pid), String(body.signal ?? 'SIGKILL') as NodeJS.Signals);
      return { ok: true };
    }
    default:
      throw new Error(`unknown probe path ${path}`);
  }
}

/**
 * `npm start` mode ($MOE_LENS_START_OPEN): opens the sample document in every new window and
 * analyses it once MoE Lens is there, so the person opening the URL sees it already coloured.
 */
async function openAndAnalyze(path: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path));
  await vscode.window.showTextDocument(doc, { preview: false });
  const ext = vscode.extensions.getExtension('moe-lens.moe-lens');
  await ext?.activate();
  // With moeLens.analyzeOnOpen the extension analyses the shown document itself.
  if (vscode.workspace.getConfiguration('moeLens').get<boolean>('analyzeOnOpen')) {
    return;
  }
  if ((await vscode.commands.getCommands(true)).includes('moeLens.analyzeDocument')) {
    await vscode.commands.executeCommand('moeLens.analyzeDocument');
  }
}

export function activate(context: vscode.ExtensionContext): void {
  const open = process.env.MOE_LENS_START_OPEN;
  if (open) {
    openAndAnalyze(open).catch((err: unknown) => console.error('[moe-lens start] could not analyse the sample:', err));
  }
  const file = process.env.MOE_LENS_E2E_PROBE_FILE;
  if (!file) {
    return;
  }
  // A custom header is required: a web page cannot send one to 127.0.0.1 without a CORS preflight,
  // which this server never grants, so only the test (which read the file) can drive it.
  const token = randomBytes(16).toString('hex');
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (code: number, value: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.method !== 'POST' || req.headers['x-probe-token'] !== token) {
      reply(403, { error: 'forbidden' });
      return;
    }
    readBody(req)
      .then((body) => handle(req.url ?? '/', body))
      .then(
        (value) => reply(200, value),
        (err: unknown) => reply(500, { error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }),
      );
  });
  server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as AddressInfo).port;
    writeFileSync(file, JSON.stringify({ port, token, pid: process.pid }), { mode: 0o600 });
  });
  context.subscriptions.push({ dispose: () => server.close() });
}

export function deactivate(): void {
  stopLag();
}
