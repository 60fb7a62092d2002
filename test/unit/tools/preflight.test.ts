/** `npm start`'s system-package preflight, against a fake system (nothing real is installed). */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CHROMIUM } from '../../helpers/chromium.cjs';

type Preflight = typeof import('../../../tools/preflight.mjs', { with: { 'resolution-mode': 'import' } });
const load = (): Promise<Preflight> => import(pathToFileURL(path.join(__dirname, '../../../tools/preflight.mjs')).href);

const BUILD_TOOLS = ['g++', 'make', 'python3', 'apt-get'];
const KRB5_HEADER = '/usr/include/gssapi/gssapi.h';

/** A system holding these files and commands; `install` adds what apt-get would. */
function fakeSystem(files: string[], commands: string[]) {
  const f = new Set(files);
  const c = new Set(commands);
  const installed: string[][] = [];
  return {
    probe: { file: (p: string) => f.has(p), command: (n: string) => c.has(n) },
    installed,
    install: (names: string[]) => {
      installed.push(names);
      for (const name of names) {
        if (name === 'libkrb5-dev') f.add(KRB5_HEADER);
        if (name === 'chromium') f.add(CHROMIUM);
      }
      return true;
    },
  };
}

describe('preflight', () => {
  it('names libkrb5-dev, why and the command, in one line, when code-server is still to be installed', async () => {
    const { preflight } = await load();
    const sys = fakeSystem([CHROMIUM], BUILD_TOOLS);
    const line = preflight({ hostInstall: true, smoke: false }, { probe: sys.probe, isRoot: false });
    assert.ok(line);
    assert.doesNotMatch(line, /\n/);
    assert.match(line, /libkrb5-dev: code-server's kerberos addon builds against it/);
    assert.match(line, /sudo apt-get install -y libkrb5-dev$/);
    assert.deepEqual(sys.installed, []);
  });

  it('names Chromium for --smoke', async () => {
    const { preflight } = await load();
    const sys = fakeSystem([KRB5_HEADER], BUILD_TOOLS);
    const line = preflight({ hostInstall: true, smoke: true }, { probe: sys.probe, isRoot: false });
    assert.match(line ?? '', /chromium: --smoke and the browser tests drive it.*apt-get install -y chromium$/);
  });

  it('lists every missing package in the one command', async () => {
    const { preflight } = await load();
    const line = preflight({ hostInstall: true, smoke: true }, { probe: fakeSystem([], []).probe, isRoot: false });
    assert.match(line ?? '', /apt-get install -y libkrb5-dev g\+\+ make python3 chromium$/);
  });

  it('asks for nothing the chosen path does not need', async () => {
    const { preflight } = await load();
    const bare = fakeSystem([], []).probe;
    assert.equal(preflight({ hostInstall: false, smoke: false }, { probe: bare, isRoot: false }), null);
    const krb5 = fakeSystem([KRB5_HEADER], BUILD_TOOLS).probe;
    assert.equal(preflight({ hostInstall: true, smoke: false }, { probe: krb5, isRoot: false }), null);
  });

  it('as root installs what is missing with apt-get, then checks again', async () => {
    const { preflight } = await load();
    const sys = fakeSystem([], BUILD_TOOLS);
    const logs: string[] = [];
    const line = preflight({ hostInstall: true, smoke: true }, { probe: sys.probe, isRoot: true, install: sys.install, log: (m) => logs.push(m) });
    assert.equal(line, null);
    assert.deepEqual(sys.installed, [['libkrb5-dev', 'chromium']]);
    assert.match(logs.join('\n'), /installing libkrb5-dev chromium with apt-get/);
  });

  it('as root, says so when apt-get fails', async () => {
    const { preflight } = await load();
    const sys = fakeSystem([], BUILD_TOOLS);
    const line = preflight({ hostInstall: true, smoke: false }, { probe: sys.probe, isRoot: true, install: () => false, log: () => undefined });
    assert.match(line ?? '', /^apt-get could not install them; .*apt-get install -y libkrb5-dev$/);
  });

  it('probes the real system: files and commands on PATH', async () => {
    const { systemProbe } = await load();
    assert.equal(systemProbe.command('sh'), true);
    assert.equal(systemProbe.command('no-such-command-moe-lens'), false);
    assert.equal(systemProbe.file(__filename), true);
    assert.equal(systemProbe.file(`${__filename}.absent`), false);
  });
});
