/**
 * A GGUF file is a model like any other on the command line: the embedded model written as BF16 GGUF
 * gives its safetensors trace for a text (`trace --model FILE.gguf --text`, its GGUF tokenizer
 * included), `tokens --tokenizer FILE.gguf` the same tokens as its folder, `info --model FILE.gguf`
 * its plan; a GGUF whose pre-tokenizer is unknown still runs from ids and says what it lacks for text.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { convertHfToGguf } from '../../../tools/gguf/convertHf';
import { builtCli } from '../../helpers/builtCli';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DEMO = path.join(ROOT, 'models', 'demo');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-cli-gguf-'));
const demoGguf = path.join(tmp, 'demo-BF16.gguf');
const noPre = path.join(tmp, 'demo-default-pre.gguf');
let cli = '';
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TEXT = 'def naïve(x):\r\n\treturn x ** 2  # 👩‍💻 café, 数学 <|im_end|>\n';

describe('GGUF files on the command line', () => {
  before(async () => {
    cli = builtCli();
    await convertHfToGguf(DEMO, demoGguf, { type: 'BF16' });
    await convertHfToGguf(DEMO, noPre, { type: 'BF16', meta: { 'tokenizer.ggml.pre': 'default' } });
  });

  it('trace --model FILE.gguf --text: the safetensors trace of the embedded model', () => {
    const a = run(['trace', '--model', DEMO, '--text', TEXT, '--backend', 'cpu']);
    const b = run(['trace', '--model', demoGguf, '--text', TEXT, '--backend', 'cpu']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ta = JSON.parse(a.stdout) as Record<string, unknown>;
    const tb = JSON.parse(b.stdout) as Record<string, unknown>;
    assert.deepEqual(tb.tokens, ta.tokens, 'the GGUF tokenizer gives the same tokens and spans');
    assert.deepEqual(tb.layers, ta.layers, 'the same routing, bit for bit');
    assert.deepEqual(tb.surprisal, ta.surprisal);
  });

  it('tokens --tokenizer FILE.gguf and info --model FILE.gguf', () => {
    const a = run(['tokens', '--tokenizer', DEMO, '--text', TEXT]);
    const b = run(['tokens', '--tokenizer', demoGguf, '--text', TEXT]);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout));
    const info = run(['info', '--model', demoGguf]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /qwen2_moe/);
    assert.match(info.stdout, /BF16/);
  });

  it('an unknown pre-tokenizer: --ids runs, --text says what is missing in one line', () => {
    const ids = run(['trace', '--model', noPre, '--ids', '1,2,3,4', '--backend', 'cpu']);
    assert.equal(ids.code, 0, ids.stderr);
    const text = run(['trace', '--model', noPre, '--text', 'hello', '--backend', 'cpu']);
    assert.notEqual(text.code, 0);
    assert.match(text.stderr, /pre-tokenizer 'default'.*--ids/);
    assert.equal(text.stderr.trim().split('\n').length, 1, text.stderr);
  });
});
