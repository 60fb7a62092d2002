/**
 * The built CLI as a user runs it: `trace` (ids, text, file; JSON on stdout), `analyze` (a saved
 * trace or a document), and one-line errors with non-zero exits. Runs on a baby Qwen2-MoE with the
 * demo model's tokenizer copied beside it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RoutingTrace } from '../../../src/shared/trace';
import { readTraceJson } from '../../../src/shared/traceCodec';
import { builtCli } from '../../helpers/builtCli';
import { makeBabyModel } from './babyModel';

const root = path.resolve(__dirname, '..', '..', '..');
let cli = '';
let dir: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, MOE_LENS_BACKEND: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  cli = builtCli(); // rebuilds when dist/ is missing or older than src/
  dir = makeBabyModel('qwen2_moe', { vocab_size: 4096 });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(root, 'models', 'demo', f), path.join(dir, f));
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('moe-lens trace', () => {
  test('--ids prints a trace without a tokenizer; --with-logits adds [T][V]', () => {
    const r = run(['trace', '--model', dir, '--ids', '5,6,7', '--with-logits']);
    assert.equal(r.code, 0, r.stderr);
    const trace = readTraceJson(r.stdout);
    assert.equal(trace.schema, 'moe-lens.trace/1');
    assert.equal(trace.backend, 'wasm');
    assert.deepEqual(trace.tokens, [5, 6, 7].map((id) => ({ id, text: null, start: null, end: null })));
    assert.deepEqual(trace.layers.map((l) => [l.layer, l.kind]), [[0, 'moe'], [1, 'moe']]);
    assert.equal(trace.logits!.length, 3);
    assert.equal(trace.logits![0].length, 4096);
    assert.equal(trace.surprisal[2], null);
  });

  test('--text uses the folder tokenizer: token text and UTF-16 spans', () => {
    const text = 'Hello world';
    const r = run(['trace', '--model', dir, '--text', text, '--backend', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    const trace = readTraceJson(r.stdout);
    assert.equal(trace.backend, 'cpu');
    assert.equal(trace.logits, undefined);
    assert.equal(trace.tokens.map((t) => text.slice(t.start!, t.end!)).join(''), text);
    assert.equal(trace.layers[0].experts!.length, trace.tokens.length);
  });

  test('--file reads the document', () => {
    const file = path.join(dir, 'doc.txt');
    fs.writeFileSync(file, 'def f(x):\n    return x\n');
    const r = run(['trace', '--model', dir, '--file', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readTraceJson(r.stdout).tokens.length > 3);
  });

  const errors: [string, string[], number, RegExp][] = [
    ['no input', ['trace', '--model', 'x'], 2, /give exactly one of --ids, --text or --file/],
    ['bad ids', ['trace', '--ids', '1,x'], 2, /--ids must be a comma-separated list/],
    ['bad backend', ['trace', '--model', '.', '--ids', '1', '--backend', 'gpu'], 2, /unknown backend 'gpu'; use one of: node, wasm, cpu/],
    ['missing folder', ['trace', '--model', '/nonexistent/model', '--ids', '1'], 1, /nonexistent/],
    ['unknown option', ['trace', '--bogus'], 2, /unknown option --bogus/],
  ];
  for (const [name, args, code, message] of errors) {
    test(`error: ${name} → one line on stderr, exit ${code}`, () => {
      const r = run(args);
      assert.equal(r.code, code);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }

  test('error: an id past the vocabulary is one clear line', () => {
    const r = run(['trace', '--model', dir, '--ids', '1,4096']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^moe-lens: token id 4096 is outside the vocabulary \(0\.\.4095\)\n$/);
  });
});

describe('moe-lens analyze', () => {
  test('a saved trace: per-token table and load summary', () => {
    const saved = path.join(dir, 'trace.json');
    fs.writeFileSync(saved, run(['trace', '--model', dir, '--text', 'one two three']).stdout);
    const r = run(['analyze', saved, '--layer', '1']);
    assert.equal(r.code, 0, r.stderr);
    const trace = readTraceJson(fs.readFileSync(saved, 'utf8'));
    assert.match(r.stdout, /^model .* \(qwen2_moe\): 2 layers, 4 experts, top-2/);
    assert.match(r.stdout, /layer 1 \(moe\)/);
    assert.doesNotMatch(r.stdout, /layer 0 \(moe\)/);
    const first = trace.layers[1];
    const row = `${first.experts![0][0]} (${first.weights![0][0].toFixed(3)})`;
    assert.ok(r.stdout.includes(row), `table shows ${row}`);
    assert.match(r.stdout, /expert load[^\n]*\n {2}layer {3}0: busiest/);
  });

  test('a document runs through the model; --progress sends progress to stderr', () => {
    const doc = path.join(dir, 'doc2.txt');
    fs.writeFileSync(doc, 'A short document.');
    const r = run(['analyze', doc, '--model', dir, '--progress']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /layer 0 \(moe\)[\s\S]*layer 1 \(moe\)/);
    assert.match(r.stderr, /100% done/);
  });

  test('a hostile saved trace is refused in one line, without analysing it as text', () => {
    const saved = path.join(dir, 'trace.json');
    const good = fs.readFileSync(saved, 'utf8');
    const edit = (f: (t: RoutingTrace) => void): string => {
      const t = JSON.parse(good) as RoutingTrace;
      f(t);
      return JSON.stringify(t);
    };
    const cases: [string, string, RegExp][] = [
      ['experts', edit((t) => (t.model.numExperts = 1e9)), /model\.numExperts must be an integer in 1\.\.4096, got 1000000000/],
      ['truncated', good.slice(0, Math.floor(good.length / 2)), /not valid JSON \(truncated or corrupt\)/],
      ['expert id', edit((t) => (t.layers[1].experts![0][0] = 99)), /layer 1: experts\[0\]\[0\] must be an integer in 0\.\.3, got 99/],
      ['weights', edit((t) => ((t.layers[1].weights as unknown[])[2] = 'x')), /layer 1: weights\[2\] must be an array of 2 numbers/],
      ['schema', edit((t) => ((t as { schema: string }).schema = 'moe-lens.trace/9')), /schema must be 'moe-lens\.trace\/1'/],
    ];
    for (const [name, text, message] of cases) {
      const file = path.join(dir, `hostile-${name}.json`);
      fs.writeFileSync(file, text);
      const r = run(['analyze', file]);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.match(r.stderr, /^moe-lens: [^\n]*: not a usable trace: [^\n]*\n$/, `${name}: one line`);
      assert.equal(r.stdout, '', name);
    }
  });

  test('"NaN" strings in a saved trace are numbers again; terminal escapes in its strings are shown, not sent', () => {
    const saved = path.join(dir, 'trace.json');
    const t = JSON.parse(fs.readFileSync(saved, 'utf8')) as RoutingTrace;
    (t.surprisal as unknown[])[0] = 'NaN';
    (t.layers[1].weights![0] as unknown[])[0] = 'Infinity';
    t.model.name = '\u001b]0;owned\u0007\u001b[31mred\u009b2J';
    t.tokens[0].text = '\u001b[2J';
    const file = path.join(dir, 'strings.json');
    fs.writeFileSync(file, JSON.stringify(t));
    const r = run(['analyze', file, '--layer', '1']);
    assert.equal(r.code, 0, r.stderr);
    const controls = [...r.stdout].filter((ch) => ch !== '\n' && (ch.charCodeAt(0) < 0x20 || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f)));
    assert.deepEqual(controls, [], 'no control character reaches the terminal');
    assert.match(r.stdout, /^model ⟨U\+001B⟩\]0;owned⟨U\+0007⟩⟨U\+001B⟩\[31mred⟨U\+009B⟩2J \(qwen2_moe\)/);
    assert.match(r.stdout, /\n {6}0 {2}⟨U\+001B⟩\[2J +\d+ \(∞\)/);
  });

  test('progress is shown on a terminal only: a redirected stderr stays clean unless --progress', () => {
    const doc = path.join(dir, 'doc2.txt');
    const quiet = run(['analyze', doc, '--model', dir]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /%/);
    const traced = run(['trace', '--model', dir, '--file', doc, '--progress']);
    assert.equal(traced.code, 0, traced.stderr);
    assert.match(traced.stderr, /moe-lens: 100% done/);
  });

  test('--layer that does not exist is a usage error', () => {
    const saved = path.join(dir, 'trace.json');
    const r = run(['analyze', saved, '--layer', '7']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--layer 7: the model has layers 0, 1/);
  });
});

describe('moe-lens info and --max-memory', () => {
  test('info prints family, parameters, experts, dtypes, bytes on disk and the memory plan, reading no weights', () => {
    const r = run(['info', '--model', dir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), ['model', 'family', 'parameters', 'layers', 'experts', 'dtypes', 'on', 'memory']);
    assert.equal(lines[1], 'family      qwen2_moe');
    assert.equal(lines[4], 'experts     4, k = 2');
    assert.match(lines[7], /^memory {6}resident: holds about \d+ MB of a budget of \d+ MB/);
    const tiny = run(['info', '--model', dir, '--max-memory', '1']);
    assert.equal(tiny.code, 0, tiny.stderr);
    assert.match(tiny.stdout, /\nmemory {6}refused: this model needs at least (\d+) MB to run layer by layer .*\(--max-memory \1, or the moeLens\.memoryLimitMb setting\)\n$/);
  });

  test('trace --max-memory: streamed at the minimum gives the resident trace; below it, one line naming the minimum', () => {
    const minimum = Number(/needs at least (\d+) MB/.exec(run(['info', '--model', dir, '--max-memory', '1']).stdout)?.[1]);
    assert.ok(minimum > 0);
    assert.match(run(['info', '--model', dir, '--max-memory', String(minimum)]).stdout, /\nmemory {6}streamed: /);
    const resident = run(['trace', '--model', dir, '--ids', '5,6,7,8']);
    const streamed = run(['trace', '--model', dir, '--ids', '5,6,7,8', '--max-memory', String(minimum)]);
    assert.equal(streamed.code, 0, streamed.stderr);
    const strip = (t: RoutingTrace): unknown => ({ ...t, timing: null });
    assert.deepEqual(strip(readTraceJson(streamed.stdout)), strip(readTraceJson(resident.stdout)));
    const refused = run(['trace', '--model', dir, '--ids', '5,6', '--max-memory', String(minimum - 1)]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^moe-lens: this model needs at least ${minimum} MB to run layer by layer`));
    const bad = run(['analyze', 'x.txt', '--max-memory', '2GB']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-memory must be a whole number 1 or more|--max-memory must be a whole number from 1/);
  });
});

describe('moe-lens --threads', () => {
  test('trace, analyze and counterfactual take --threads N; 1 and 2 route the same; 0 or a word is a usage error', () => {
    const one = run(['trace', '--model', dir, '--ids', '5,6,7,8,9', '--threads', '1']);
    const two = run(['trace', '--model', dir, '--ids', '5,6,7,8,9', '--threads', '2']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    const experts = (t: RoutingTrace): unknown => t.layers.map((l) => l.experts);
    assert.deepEqual(experts(readTraceJson(two.stdout)), experts(readTraceJson(one.stdout)));
    // tfjs' own kernels instead of the engine's (MOE_LENS_KERNELS=tfjs): the same routing, logits within float32 rounding
    const stock = run(['trace', '--model', dir, '--ids', '5,6,7,8,9', '--threads', '2'], { MOE_LENS_KERNELS: 'tfjs' });
    assert.equal(stock.code, 0, stock.stderr);
    assert.deepEqual(experts(readTraceJson(stock.stdout)), experts(readTraceJson(one.stdout)));
    const logits = (t: RoutingTrace): number[] => t.layers.flatMap((l) => (l.routerLogits ?? []).flat());
    const [ours, theirs] = [logits(readTraceJson(one.stdout)), logits(readTraceJson(stock.stdout))];
    assert.ok(ours.length > 0 && ours.every((x, i) => Math.abs(x - theirs[i]) < 1e-4), 'router logits agree within 1e-4');
    for (const [cmd, extra] of [['trace', ['--ids', '5']], ['analyze', ['x.txt']], ['counterfactual', ['--ids', '5', '--mode', 'topk:1']]] as const) {
      for (const bad of ['0', 'two', '65']) {
        const r = run([cmd, ...extra, '--model', dir, '--threads', bad]);
        assert.equal(r.code, 2, `${cmd} --threads ${bad}: ${r.stderr}`);
        assert.match(r.stderr, /--threads must be a whole number from 1 to 64/);
      }
    }
  });
});
