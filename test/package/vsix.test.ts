/**
 * What `vsce package` makes of this repository, as CI publishes it: packaged with no warning, the
 * VSIX holds the licence, the bundles, the wasm binaries, the webview scripts and the embedded model,
 * nothing from src/, test/ or node_modules, and stays under the size budget stated in the README.
 * Packages the built tree (`npm test` builds first).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipEntries, type ZipEntry } from './zipEntries';

/** The README's budget for the .vsix file. */
const BUDGET_MB = 20;

const REPO = path.join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { icon: string };
const work = mkdtempSync(path.join(tmpdir(), 'moe-lens-vsix-'));
const vsix = path.join(work, 'moe-lens.vsix');
let output = '';
let entries: ZipEntry[] = [];
const names = (): Set<string> => new Set(entries.map((e) => e.name));

before(() => {
  const vsce = path.join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [vsce, 'package', '--out', vsix], { cwd: REPO, encoding: 'utf8' });
  output = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `vsce package failed:\n${output}`);
  entries = zipEntries(readFileSync(vsix));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('the packaged VSIX', () => {
  it('is packaged by `vsce package` with no warning', () => {
    assert.doesNotMatch(output, /WARNING/, output);
  });

  it('holds the licence, readme, changelog and a 128×128 PNG icon', () => {
    for (const name of ['LICENSE.txt', 'readme.md', 'changelog.md', 'package.json', manifest.icon]) {
      assert.ok(names().has(`extension/${name}`), `extension/${name} missing`);
    }
    const png = readFileSync(path.join(REPO, manifest.icon));
    assert.equal(png.toString('latin1', 1, 4), 'PNG');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
  });

  it('holds the bundles, the webview scripts and every tfjs wasm binary', () => {
    const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    const wasm = readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'));
    assert.ok(wasm.length >= 3, `only ${wasm.join(', ')} in ${wasmDir}`);
    const bundles = ['extension.js', 'engine.js', 'cli.js', 'tokenizerWorker.js', 'kernelWorker.js', 'tfjs-backend-wasm-threaded-simd.js', ...wasm].map((f) => `dist/${f}`);
    for (const name of [...bundles, 'media/routing.js', 'media/dashboard.js']) {
      assert.ok(names().has(`extension/${name}`), `extension/${name} missing`);
    }
  });

  it('holds the embedded model whole: config, weights, tokenizer', () => {
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      const entry = entries.find((e) => e.name === `extension/models/demo/${file}`);
      assert.ok(entry, `models/demo/${file} missing`);
      assert.equal(entry.size, statSync(path.join(REPO, 'models', 'demo', file)).size, `models/demo/${file} size`);
    }
  });

  it('holds nothing from src/, test/, tools/, bench/ or node_modules, and no sources or maps', () => {
    const stray = entries
      .map((e) => e.name)
      .filter((n) => /^extension\/(src|test|tools|bench|node_modules|\.ci)\//.test(n) || /\.(ts|mts|map|vsix)$/.test(n));
    assert.deepEqual(stray, []);
  });

  it(`stays under ${BUDGET_MB} MB`, () => {
    const mb = statSync(vsix).size / 2 ** 20;
    assert.ok(mb < BUDGET_MB, `the VSIX is ${mb.toFixed(2)} MB, over the ${BUDGET_MB} MB budget (README)`);
  });
});
