/** `moe-lens tokens` from the built bundle: the worker runs from dist/tokenizerWorker.js. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { builtCli } from '../../helpers/builtCli';
import { packageTokenizerDir } from './fixtures';

const root = resolve(__dirname, '../../..');
let cli = '';

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'tokens', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('moe-lens tokens', () => {
  before(() => {
    cli = builtCli(); // dist/cli.js and dist/tokenizerWorker.js, rebuilt when missing or older than src/
  });

  it('prints ids, text and UTF-16 spans as JSON (--text)', () => {
    const r = run(['--tokenizer', packageTokenizerDir('llama2'), '--text', 'Hi \u{1F44D}']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      { id: 1, text: '<s>', start: null, end: null, partial: false },
      { id: 15359, text: ' Hi', start: 0, end: 2, partial: false },
      { id: 28705, text: ' ', start: 2, end: 3, partial: false },
      { id: 30195, text: '\u{1F44D}', start: 3, end: 5, partial: false },
    ]);
  });

  it('reads --file and honours --special-tokens-in-text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-lens-cli-'));
    try {
      const file = join(dir, 'doc.txt');
      writeFileSync(file, 'x</s>');
      const llama = packageTokenizerDir('llama2');
      const asText = JSON.parse(run(['--tokenizer', llama, '--file', file, '--no-special-tokens']).stdout) as { id: number }[];
      assert.deepEqual(asText.map((t) => t.id), [1318, 700, 28713, 28767]);
      const asSpecial = JSON.parse(run(['--tokenizer', llama, '--file', file, '--no-special-tokens', '--special-tokens-in-text', 'special']).stdout) as unknown[];
      assert.deepEqual(asSpecial, [
        { id: 1318, text: ' x', start: 0, end: 1, partial: false },
        { id: 2, text: '</s>', start: 1, end: 5, partial: false },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with one line and a usage exit code on bad arguments', () => {
    const none = run(['--tokenizer', packageTokenizerDir('llama2')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --text/);
    const missing = run(['--tokenizer', join(root, 'no-such-dir'), '--text', 'x']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^moe-lens: tokenizer folder not found/);
  });
});
