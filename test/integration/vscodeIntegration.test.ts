// Runs test/integration/suite in a real VS Code through @vscode/test-electron. VS Code comes from
// $MOE_LENS_VSCODE_EXECUTABLE (any executable that takes VS Code's CLI flags), else from
// @vscode/test-electron's cache or download, else (offline machines) from the code-server
// stand-in when the e2e host is installed (test/e2e/standin/code.mjs); where none of these can be
// had, the suite is skipped with the reason printed. It never waits on the network for longer
// than DOWNLOAD_TIMEOUT_MS: the download probe runs in a child process that is killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildSync } from 'esbuild';
import { CHROMIUM } from '../helpers/chromium.cjs';

const REPO = path.resolve(__dirname, '..', '..');
const DOWNLOAD_TIMEOUT_MS = Number(process.env.MOE_LENS_VSCODE_DOWNLOAD_TIMEOUT_MS ?? 20_000);

/** The code-server stand-in, when the e2e host and Chromium are installed. */
async function standIn(): Promise<string | null> {
  const setup = path.join(REPO, 'test', 'e2e', 'setup.mjs');
  if (process.platform !== 'linux' || !existsSync(setup) || !existsSync(CHROMIUM)) {
    return null;
  }
  const { hostReady } = (await import(setup)) as { hostReady(): boolean };
  return hostReady() ? path.join(REPO, 'test', 'e2e', 'standin', 'code.mjs') : null;
}

/** The path of a VS Code executable, or the reason there is none. */
async function locateVsCode(): Promise<{ path: string } | { reason: string }> {
  const downloaded = await downloadVsCode();
  if ('path' in downloaded || process.env.MOE_LENS_VSCODE_EXECUTABLE) {
    return downloaded;
  }
  const fallback = await standIn();
  if (fallback) {
    console.log(`# ${downloaded.reason}; using the code-server stand-in instead`);
    return { path: fallback };
  }
  return { reason: `${downloaded.reason}; and no code-server e2e host (node test/e2e/setup.mjs) for the stand-in` };
}

async function downloadVsCode(): Promise<{ path: string } | { reason: string }> {
  const fromEnv = process.env.MOE_LENS_VSCODE_EXECUTABLE;
  if (fromEnv) {
    return existsSync(fromEnv) ? { path: fromEnv } : { reason: `MOE_LENS_VSCODE_EXECUTABLE=${fromEnv} does not exist` };
  }
  if (process.env.MOE_LENS_SKIP_VSCODE_DOWNLOAD) {
    return { reason: 'MOE_LENS_SKIP_VSCODE_DOWNLOAD is set and no MOE_LENS_VSCODE_EXECUTABLE given' };
  }
  // downloadAndUnzipVSCode reuses .vscode-test/ when a copy is there; else it downloads.
  const script = `require('@vscode/test-electron').downloadAndUnzipVSCode({ cachePath: ${JSON.stringify(path.join(REPO, '.vscode-test'))}, timeout: ${DOWNLOAD_TIMEOUT_MS} })
    .then((p) => { process.stdout.write('PATH=' + p + '\\n'); process.exit(0); }, (e) => { process.stdout.write('ERR=' + String(e && e.message || e).split('\\n')[0] + '\\n'); process.exit(1); });`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ reason: `VS Code could not be downloaded within ${DOWNLOAD_TIMEOUT_MS / 1000} s (offline?); set MOE_LENS_VSCODE_EXECUTABLE to run this suite` });
    }, DOWNLOAD_TIMEOUT_MS + 2000);
    child.on('exit', () => {
      clearTimeout(timer);
      const found = /PATH=(.+)/.exec(out)?.[1];
      const err = /ERR=(.*)/.exec(out)?.[1];
      resolve(found && existsSync(found) ? { path: found } : { reason: `VS Code could not be downloaded: ${err ?? 'no path returned'}; set MOE_LENS_VSCODE_EXECUTABLE to run this suite` });
    });
  });
}

test('integration suite in a real VS Code (@vscode/test-electron)', async (t) => {
  if (!existsSync(path.join(REPO, 'dist', 'extension.js')) || !existsSync(path.join(REPO, 'dist', 'engine.js'))) {
    console.log('# vscode integration suite skipped: dist/ is not built (npm run build)');
    t.skip('dist/ is not built');
    return;
  }
  const vscode = await locateVsCode();
  if ('reason' in vscode) {
    console.log(`# vscode integration suite skipped: ${vscode.reason}`);
    t.skip(vscode.reason);
    return;
  }
  const out = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-it-'));
  try {
    buildSync({
      entryPoints: [path.join(__dirname, 'suite', 'index.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['vscode'],
      outfile: path.join(out, 'suite.js'),
      logLevel: 'error',
    });
    // A copy: the suite edits its documents.
    const workspace = path.join(out, 'workspace');
    cpSync(path.join(__dirname, 'workspace'), workspace, { recursive: true });
    const { runTests } = await import('@vscode/test-electron');
    const code = await runTests({
      vscodeExecutablePath: vscode.path,
      extensionDevelopmentPath: REPO,
      extensionTestsPath: path.join(out, 'suite.js'),
      launchArgs: [workspace, '--disable-extensions', `--user-data-dir=${path.join(out, 'user')}`, '--disable-workspace-trust'],
    });
    assert.equal(code, 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
