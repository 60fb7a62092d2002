/**
 * `moe-lens counterfactual` as a user runs it (built CLI, baby Qwen2-MoE with the demo tokenizer):
 * the document's shape for a single pass and for capacity, one summary row per pass for the sweeps,
 * and usage errors for bad modes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CounterfactualPassDoc, CounterfactualSweepDoc } from '../../../src/shared/counterfactual';
import { builtCli } from '../../helpers/builtCli';
import { BABY, makeBabyModel } from './babyModel';

const root = path.resolve(__dirname, '..', '..', '..');
let cli = '';
let dir: string;

function run(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'counterfactual', '--model', dir, ...args], { encoding: 'utf8', input, env: { ...process.env, MOE_LENS_BACKEND: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  cli = builtCli();
  dir = makeBabyModel('qwen2_moe', { vocab_size: 4096 });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(root, 'models', 'demo', f), path.join(dir, f));
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('moe-lens counterfactual', () => {
  test('a single pass: kl and surprisalDelta per token, experts and weights per MoE layer', () => {
    const r = run(['--ids', '5,6,7,8', '--mode', 'topk:1@1']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as CounterfactualPassDoc;
    assert.deepEqual(Object.keys(doc), ['schema', 'mode', 'causal', 'kl', 'surprisalDelta', 'layers']);
    assert.equal(doc.schema, 'moe-lens.counterfactual/1');
    assert.equal(doc.mode, 'topk:1@1');
    assert.equal(doc.causal, true);
    assert.equal(doc.kl.length, 4);
    assert.equal(doc.surprisalDelta[3], null);
    assert.deepEqual(doc.layers.map((l) => l.layer), [0, 1]);
    assert.ok(doc.layers[0].experts.every((row) => row.length === BABY.k), 'layer 0 keeps the model’s own k');
    assert.ok(doc.layers[1].experts.every((row) => row.length === 1));
    assert.equal(doc.layers[1].weights[0].length, 1);
  });

  test('--text, capacity lists dropped per layer; expert choice says it is not causal', () => {
    const cap = run(['--text', 'Hello world, hello world again', '--mode', 'capacity:0.5']);
    assert.equal(cap.code, 0, cap.stderr);
    const doc = JSON.parse(cap.stdout) as CounterfactualPassDoc;
    assert.ok(doc.layers.every((l) => l.dropped && l.dropped.length === doc.kl.length));
    assert.ok(doc.layers.some((l) => l.dropped!.some((d) => d.length > 0)), 'a capacity factor of 0.5 drops assignments');
    const ec = JSON.parse(run(['--ids', '5,6,7,8', '--mode', 'expert-choice:1']).stdout) as CounterfactualPassDoc;
    assert.equal(ec.causal, false);
  });

  test('sweep-k and ablate-each:L print one summary row per pass', () => {
    const sweep = run(['--ids', '5,6,7,8,9', '--mode', 'sweep-k']);
    assert.equal(sweep.code, 0, sweep.stderr);
    const doc = JSON.parse(sweep.stdout) as CounterfactualSweepDoc;
    assert.deepEqual(doc.passes.map((p) => p.mode), ['topk:1', 'topk:2', 'topk:3', 'topk:4']);
    const own = doc.passes[BABY.k - 1];
    assert.ok(own.maxKl < 1e-6 && Math.abs(own.meanSurprisalDelta!) < 1e-5, 'the model’s own k changes nothing');
    assert.ok(doc.passes.every((p) => p.maxKl >= p.meanKl));
    const each = JSON.parse(run(['--ids', '5,6,7,8,9', '--mode', 'ablate-each:1']).stdout) as CounterfactualSweepDoc;
    assert.deepEqual(each.passes.map((p) => p.mode), ['ablate:1:0', 'ablate:1:1', 'ablate:1:2', 'ablate:1:3']);
  });

  test('--file - reads standard input; --progress reports on stderr', () => {
    const r = run(['--file', '-', '--mode', 'ablate-each:1', '--progress'], 'Hello world, hello again');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as CounterfactualSweepDoc).passes.length, BABY.E);
    assert.match(r.stderr, /moe-lens: \d+% pass 1\/4 \(ablate:1:0\): layer 2\/2/);
    assert.match(r.stderr, /moe-lens: 100% /);
  });

  test('more tokens than one window is a clear error', () => {
    const r = run(['--ids', Array.from({ length: 65 }, (_, i) => i + 1).join(','), '--mode', 'dense']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^moe-lens: counterfactuals run on one window: 65 tokens exceed the model's context of 64; give a shorter text\n$/);
  });

  test('--max-memory: streamed at the minimum gives the resident result; below it, one line naming the minimum', () => {
    const info = spawnSync(process.execPath, [cli, 'info', '--model', dir, '--max-memory', '1'], { encoding: 'utf8' });
    const minimum = Number(/needs at least (\d+) MB/.exec(info.stdout)?.[1]);
    assert.ok(minimum > 0, info.stdout + info.stderr);
    const resident = run(['--ids', '5,6,7,8', '--mode', 'topk:1']);
    const streamed = run(['--ids', '5,6,7,8', '--mode', 'topk:1', '--max-memory', String(minimum)]);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.deepEqual(JSON.parse(streamed.stdout), JSON.parse(resident.stdout));
    const refused = run(['--ids', '5,6', '--mode', 'topk:1', '--max-memory', String(minimum - 1)]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^moe-lens: this model needs at least ${minimum} MB to run layer by layer[^\\n]*\\n$`));
  });

  test('bad modes and missing --mode are usage errors (exit 2, one line)', () => {
    for (const args of [
      ['--ids', '5,6', '--mode', 'topk:9'],
      ['--ids', '5,6', '--mode', 'ablate:7:0'],
      ['--ids', '5,6', '--mode', 'nonsense'],
      ['--ids', '5,6'],
      ['--ids', '5,6', '--mode', 'dense', '--layer', '1'],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^moe-lens: .*(--mode|mode|unknown option --layer)/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
