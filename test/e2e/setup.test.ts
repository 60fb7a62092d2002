/**
 * The e2e host install as `npm start` runs it: inside an outer npm whose environment says which
 * Node it ran on. code-server's postinstall reads the Node major from `npm_config_user_agent`
 * (the sed line below is copied from its postinstall.sh) and refuses anything but 24; the inner
 * npm must report the Node it runs on, not the outer one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const SETUP = path.join(__dirname, 'setup.mjs');
type Setup = typeof import('./setup.mjs', { with: { 'resolution-mode': 'import' } });
const setup = (): Promise<Setup> => import(pathToFileURL(SETUP).href);

const work = mkdtempSync(path.join(tmpdir(), 'moe-lens-setup-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** What npm exports to a script it runs (`npm start` on Node 20), as seen in `npm run env`. */
const OUTER_NPM = {
  npm_config_user_agent: 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false',
  npm_node_execpath: '/usr/bin/node',
  npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js',
  npm_config_node_gyp: '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  npm_config_prefix: '/usr',
  npm_lifecycle_event: 'start',
  npm_package_name: 'moe-lens',
  NODE: '/usr/bin/node',
  INIT_CWD: '/src/moe-lens',
};

describe('innerNpmEnv', () => {
  it("drops the outer npm's variables, keeps the user's, and puts the given Node first", async () => {
    const { innerNpmEnv } = await setup();
    const env = innerNpmEnv({ ...OUTER_NPM, PATH: '/usr/bin', HOME: '/home/u', NPM_CONFIG_REGISTRY: 'http://mirror' }, '/c/node24');
    assert.deepEqual(env, {
      PATH: `/c/node24/bin${path.delimiter}/usr/bin`,
      HOME: '/home/u',
      NPM_CONFIG_REGISTRY: 'http://mirror',
      npm_config_nodedir: '/c/node24',
    });
  });
});

/**
 * Runs, inside `npm start` of a throw-away package (so the environment is npm's own), an inner
 * `npm run` with innerNpmEnv(process.env, nodeDir); the inner script prints what code-server's
 * postinstall would conclude. `outerEnv` is added to the outer npm's environment.
 */
function underNpmStart(nodeDir: string, outerEnv: Record<string, string>): { major: string; node: string } {
  const dir = mkdtempSync(path.join(work, 'run-'));
  const inner = path.join(dir, 'inner');
  mkdirSync(inner);
  writeFileSync(path.join(inner, 'package.json'), JSON.stringify({ name: 'inner', version: '1.0.0', scripts: { probe: 'sh probe.sh' } }));
  writeFileSync(
    path.join(inner, 'probe.sh'),
    [
      `echo "major=$(echo "$npm_config_user_agent" | sed -n 's/.*node\\/v\\([^.]*\\).*/\\1/p')"`,
      'echo "node=$(command -v node)"',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'outer.mjs'),
    [
      `import { spawnSync } from 'node:child_process';`,
      `const { innerNpmEnv } = await import(${JSON.stringify(pathToFileURL(SETUP).href)});`,
      `const r = spawnSync('npm', ['run', '--silent', 'probe'], { cwd: ${JSON.stringify(inner)}, env: innerNpmEnv(process.env, ${JSON.stringify(nodeDir)}), encoding: 'utf8' });`,
      `process.stdout.write(r.stdout + r.stderr);`,
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'outer', version: '1.0.0', scripts: { start: 'node outer.mjs' } }));
  const r = spawnSync('npm', ['start', '--silent'], { cwd: dir, env: { ...process.env, ...outerEnv }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const field = (name: string): string => new RegExp(`^${name}=(.*)$`, 'm').exec(r.stdout)?.[1] ?? `(no ${name} in ${r.stdout})`;
  return { major: field('major'), node: field('node') };
}

describe('the inner npm under `npm start`', () => {
  it('reports the Node it runs on, not the one the outer npm ran on', () => {
    // A stand-in "Node 24": this Node, under its own folder; the outer npm claims another version,
    // exactly as npm on Node 20 does for `npm start`.
    const nodeDir = path.join(work, 'node-standin');
    mkdirSync(path.join(nodeDir, 'bin'), { recursive: true });
    symlinkSync(process.execPath, path.join(nodeDir, 'bin', 'node'));
    const seen = underNpmStart(nodeDir, { npm_config_user_agent: 'npm/10.8.2 node/v18.20.0 linux x64 workspaces/false' });
    assert.deepEqual(seen, { major: process.versions.node.split('.')[0], node: path.join(nodeDir, 'bin', 'node') });
  });

  it('with the installed Node 24, passes the check code-server makes', async (t) => {
    const { hostPaths } = await setup();
    const { nodeDir, node } = hostPaths();
    if (!existsSync(node)) {
      t.skip(`Node 24 is not installed yet (${node}): node test/e2e/setup.mjs`);
      return;
    }
    assert.deepEqual(underNpmStart(nodeDir, {}), { major: '24', node });
  });
});
