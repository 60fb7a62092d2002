/**
 * Hostile inputs to the built CLI: each ends with one clear line on stderr, a non-zero exit and no
 * stack trace, and nothing hangs (spawnSync's timeout is only a guard: a hang shows as a kill, not
 * a slow pass). A closed stdout (`| head`) ends the run quietly.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { builtCli } from '../../helpers/builtCli';
import { makeBabyModel } from '../engine/babyModel';

const root = path.resolve(__dirname, '..', '..', '..');
let cli = '';
let dir = '';
let tmp = '';

function run(args: string[], input?: string | Buffer, env: NodeJS.ProcessEnv = {}): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, MOE_LENS_BACKEND: '', ...env },
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** One line `moe-lens: …` matching `message`, exit `code`, nothing on stdout, no stack trace. */
function assertRefused(r: ReturnType<typeof run>, message: RegExp, code = 1): void {
  assert.equal(r.signal, null, 'ended by itself (not killed by the hang guard)');
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^moe-lens: [^\n]*\n$/, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

before(() => {
  cli = builtCli();
  dir = makeBabyModel('qwen2_moe', { vocab_size: 4096 });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(root, 'models', 'demo', f), path.join(dir, f));
  }
  tmp = fs.mkdtempSync(path.join(dir, 'hostile-'));
  execFileSync('mkfifo', [path.join(tmp, 'fifo')]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A copy of the model folder with one file replaced by a FIFO. */
function folderWithFifo(name: string): string {
  const copy = fs.mkdtempSync(path.join(tmp, 'model-'));
  for (const f of fs.readdirSync(dir)) {
    if (fs.statSync(path.join(dir, f)).isFile() && f !== name) {
      fs.copyFileSync(path.join(dir, f), path.join(copy, f));
    }
  }
  execFileSync('mkfifo', [path.join(copy, name)]);
  return copy;
}

describe('files that are not regular files', () => {
  for (const cmd of [['trace', '--file'], ['tokens', '--tokenizer', 'DIR', '--file'], ['analyze']]) {
    test(`${cmd[0]}: a FIFO as the document is refused at once`, () => {
      const args = [...cmd.map((a) => (a === 'DIR' ? dir : a)), path.join(tmp, 'fifo'), '--model', dir].filter((a, i, all) => cmd[0] !== 'tokens' || (a !== '--model' && all[i - 1] !== '--model'));
      assertRefused(run(args), /fifo: the (document|file) is a FIFO \(named pipe\); only regular files are read/);
    });
  }

  test('/dev/zero as the document is refused instead of read for ever', () => {
    assertRefused(run(['trace', '--model', dir, '--file', '/dev/zero']), /\/dev\/zero: the document is a character device/);
  });

  test('a document over 16 MB is refused with the limit', () => {
    const big = path.join(tmp, 'big.txt');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 17 * 1024 * 1024);
    assertRefused(run(['trace', '--model', dir, '--file', big]), /big\.txt: the document is 17 MB, over the 16 MB limit/);
  });

  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) {
    test(`${name} as a FIFO in the model folder is refused`, () => {
      const model = folderWithFifo(name);
      assertRefused(run(['trace', '--model', model, '--text', 'hello']), new RegExp(`${name.replace('.', '\\.')} is a FIFO`));
    });
  }

  test('the safetensors index as a FIFO is refused', () => {
    const model = folderWithFifo('model.safetensors.index.json');
    assertRefused(run(['trace', '--model', model, '--ids', '1']), /model\.safetensors\.index\.json: safetensors index is a FIFO/);
  });
});

describe('standard input (--file -)', () => {
  test('reads the document from standard input', () => {
    const r = run(['trace', '--model', dir, '--file', '-'], 'Hello world');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { tokens: unknown[] }).tokens.length > 0, true);
  });
  test('under the same 16 MB limit', () => {
    assertRefused(run(['tokens', '--tokenizer', dir, '--file', '-'], Buffer.alloc(16 * 1024 * 1024 + 1, 0x61)), /standard input: the document is larger than the 16 MB limit/);
  });
});

describe('binary documents', () => {
  test('a program (NUL bytes) is refused before the model loads', () => {
    const program = path.join(tmp, 'program');
    const head = Buffer.alloc(200_000);
    const fd = fs.openSync(process.execPath, 'r');
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    fs.writeFileSync(program, head);
    assertRefused(run(['trace', '--model', dir, '--file', program]), /program: not analysing it: it contains NUL bytes .* binary file, not text$/m);
  });
  test('mostly invalid UTF-8 is refused', () => {
    const file = path.join(tmp, 'latin1.bin');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 400 }, (_, i) => 0x80 + (i % 64))));
    assertRefused(run(['analyze', file, '--model', dir]), /400 of its 400 characters are not valid UTF-8/);
  });
});

describe('a closed standard output', () => {
  test('`trace … | head` ends quietly: exit 0, nothing on stderr', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => i).join(',');
    const child = spawn(process.execPath, [cli, 'trace', '--model', dir, '--ids', ids, '--with-logits'], { env: { ...process.env, MOE_LENS_BACKEND: '' } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // Like `head -c 10`: read the first piece, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});

describe('one argument parser, strict numbers, the same words', () => {
  const cases: [string, string[], RegExp][] = [
    ['--layer= is not layer 0', ['analyze', 'x.json', '--layer='], /^moe-lens: --layer needs a value\n$/],
    ['--layer with no value', ['analyze', 'x.json', '--layer'], /^moe-lens: --layer needs a value/],
    ['--layer -1', ['analyze', 'x.json', '--layer=-1'], /^moe-lens: --layer must be a whole number 0 or more, got '-1'\n$/],
    ['--layer 1.5', ['analyze', 'x.json', '--layer', '1.5'], /--layer must be a whole number 0 or more, got '1\.5'/],
    ['hex and exponent ids', ['trace', '--ids', '0x10,1e2'], /^moe-lens: --ids must be a comma-separated list of whole numbers \(token ids\), got '0x10,1e2'\n$/],
    ['empty id', ['trace', '--ids', '1,,2'], /--ids must be a comma-separated list/],
    ['timeout past the timer range', ['tokens', '--tokenizer', 'x', '--text', 'a', '--timeout-ms', '2147483648'], /^moe-lens: --timeout-ms must be a whole number from 1 to 2147483647, got '2147483648'\n$/],
    ['timeout 0', ['tokens', '--tokenizer', 'x', '--text', 'a', '--timeout-ms=0'], /--timeout-ms must be a whole number from 1 to 2147483647, got '0'/],
    ['a value for a switch', ['trace', '--ids', '1', '--with-logits=yes'], /^moe-lens: --with-logits takes no value\n$/],
    ['unexpected argument', ['trace', '--ids', '1', 'extra'], /^moe-lens: unexpected argument 'extra'\n$/],
  ];
  for (const [name, args, message] of cases) {
    test(`${name}: usage error`, () => assertRefused(run(args), message, 2));
  }
  for (const command of ['trace', 'analyze', 'tokens']) {
    test(`${command}: an unknown option is worded the same as everywhere`, () => {
      assertRefused(run([command, '--bogus', 'x']), /^moe-lens: unknown option --bogus\n$/, 2);
    });
  }

  test('MOE_LENS_TOKENIZE_TIMEOUT_MS past the timer range is refused, not a timeout after 1 ms', () => {
    assertRefused(run(['tokens', '--tokenizer', dir, '--text', 'hello'], undefined, { MOE_LENS_TOKENIZE_TIMEOUT_MS: '3000000000' }), /MOE_LENS_TOKENIZE_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647/);
  });
});

describe('terminal escapes in what an error quotes', () => {
  test('a file name with an ANSI escape is printed with the escape named, not sent to the terminal', () => {
    const name = path.join(tmp, 'red\u001b[31mname\u0007.txt');
    const r = run(['tokens', '--tokenizer', dir, '--file', name]);
    assertRefused(r, /red⟨U\+001B⟩\[31mname⟨U\+0007⟩\.txt/);
    const controls = [...r.stderr].filter((c) => c !== '\n' && (c < ' ' || c === '\u007f'));
    assert.deepEqual(controls, [], 'no control character reaches the terminal');
  });
});
