/* global process, console */
// The system packages `npm start` needs on its code-server path (and `.ci/run` for the tests),
// checked before anything starts: one actionable line naming what is missing, or, as root,
// apt-get installs it. Plain ESM with no dependencies, so it runs before `npm ci` too.
// CLI (.ci/run): `node tools/preflight.mjs --host --chromium`; exit 1 with the line if missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import chromium from '../test/helpers/chromium.cjs';

/** Each package: when it is needed, how to tell it is there, why (for the message). */
export const REQUIREMENTS = [
  {
    apt: 'libkrb5-dev',
    why: "code-server's kerberos addon builds against it",
    neededFor: (need) => need.hostInstall,
    present: (probe) => probe.file('/usr/include/gssapi/gssapi.h') || probe.command('krb5-config'),
  },
  { apt: 'g++', why: 'node-gyp compiles the addons', neededFor: (need) => need.hostInstall, present: (probe) => probe.command('g++') },
  { apt: 'make', why: 'node-gyp compiles the addons', neededFor: (need) => need.hostInstall, present: (probe) => probe.command('make') },
  { apt: 'python3', why: 'node-gyp runs on it', neededFor: (need) => need.hostInstall, present: (probe) => probe.command('python3') },
  {
    apt: 'chromium',
    why: '--smoke and the browser tests drive it',
    neededFor: (need) => need.smoke,
    present: (probe) => probe.file(chromium.CHROMIUM),
  },
];

/** The real system: files and commands on PATH. */
export const systemProbe = {
  file: (path) => existsSync(path),
  command: (name) => (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name))),
};

/** Requirements not met for `need` ({hostInstall: code-server still to install, smoke: --smoke}). */
export function missingPackages(need, probe = systemProbe) {
  return REQUIREMENTS.filter((r) => r.neededFor(need) && !r.present(probe));
}

/** The one line telling a user what to install. */
export function missingLine(missing) {
  const names = missing.map((r) => r.apt).join(' ');
  const whys = missing.map((r) => `${r.apt}: ${r.why}`).join('; ');
  return `missing system packages (${whys}): sudo apt-get install -y ${names}`;
}

function aptInstall(names) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  if (update.status !== 0) {
    return false;
  }
  return spawnSync('apt-get', ['install', '-y', '-qq', ...names], { stdio: 'inherit', env }).status === 0;
}

/**
 * Checks `need`; as root installs what is missing with apt-get. Returns null when all is there,
 * else the line to print before exiting.
 */
export function preflight(need, { probe = systemProbe, isRoot = process.getuid?.() === 0, install = aptInstall, log = console.log } = {}) {
  const missing = missingPackages(need, probe);
  if (missing.length === 0) {
    return null;
  }
  if (!isRoot || !probe.command('apt-get')) {
    return missingLine(missing);
  }
  const names = missing.map((r) => r.apt);
  log(`installing ${names.join(' ')} with apt-get (running as root)`);
  const still = install(names) ? missingPackages(need, probe) : missing;
  return still.length === 0 ? null : `apt-get could not install them; ${missingLine(still)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problem = preflight({ hostInstall: process.argv.includes('--host'), smoke: process.argv.includes('--chromium') });
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
