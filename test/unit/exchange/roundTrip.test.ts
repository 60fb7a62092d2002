/**
 * Exchange on real traces: every family fixture traced by the built CLI, then `diff` with itself,
 * `export` → `import` through CSV, safetensors and npy, all as a user runs them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import type { RoutingTrace } from '../../../src/shared/trace';
import { readTraceJson } from '../../../src/shared/traceCodec';
import type { TraceDiff } from '../../../src/shared/traceDiff';
import { loadFixture } from '../../golden/fixtureGolden';
import { builtCli } from '../../helpers/builtCli';

const FIXTURES = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'deepseek_v3', 'gpt_oss', 'qwen2_moe_sw'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-exchange-'));
let cli = '';

function run(...args: string[]): string {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

function readTrace(file: string): RoutingTrace {
  return readTraceJson(readFileSync(file, 'utf8'));
}

/** Traces to check: each fixture by ids (with logits), and the demo model on a text with spans and formula-like tokens. */
const cases: { name: string; file: string }[] = [];

before(() => {
  cli = builtCli();
  for (const name of FIXTURES) {
    const fx = loadFixture(name);
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, run('trace', '--model', fx.dir, '--ids', fx.ids.join(','), '--with-logits', '--backend', 'cpu'));
    cases.push({ name, file });
  }
  const demo = path.join(dir, 'demo.json');
  writeFileSync(demo, run('trace', '--text', `=SUM(A1) "q", naïve 👩‍💻 -1 +x @y 'z\ttab\r\nline`, '--backend', 'cpu'));
  cases.push({ name: 'demo', file: demo });
});

/** The trace as the safetensors file holds it: routing and logits as float32, the metadata as is. */
function asStored(t: RoutingTrace): RoutingTrace {
  const f32 = (m: number[][] | null | undefined) => m && m.map((row) => row.map(Math.fround));
  return {
    ...t,
    layers: t.layers.map((l) => ({
      ...l,
      ...(l.kind === 'moe' ? { routerLogits: f32(l.routerLogits), scores: f32(l.scores), weights: f32(l.weights), sharedWeight: l.sharedWeight && l.sharedWeight.map(Math.fround) } : {}),
      ...(l.selection ? { selection: f32(l.selection) } : {}),
    })),
    ...(t.logits ? { logits: f32(t.logits)! } : {}),
  };
}

const moe = (t: RoutingTrace) => t.layers.filter((l) => l.kind === 'moe');

describe('diff, export and import on real traces', () => {
  test('a trace diffed with itself is 0 in every layer, with no changed token', () => {
    for (const c of cases) {
      const diff = JSON.parse(run('diff', c.file, c.file)) as TraceDiff;
      assert.equal(diff.schema, 'moe-lens.diff/1');
      assert.equal(diff.layers.length, moe(readTrace(c.file)).length, c.name);
      for (const l of diff.layers) {
        assert.equal(l.jsd, 0, `${c.name} layer ${l.layer}`);
      }
      assert.equal(diff.sameSpans, c.name === 'demo', c.name); // traces by ids have no spans to match
      if (diff.changes) {
        assert.deepEqual(diff.changes, []);
      }
    }
  });

  test('safetensors export → import gives back the whole trace, f32 values bitwise', () => {
    for (const c of cases) {
      const st = path.join(dir, `${c.name}.safetensors`);
      const back = path.join(dir, `${c.name}.st.json`);
      run('export', c.file, '--format', 'safetensors', '-o', st);
      run('import', st, '--format', 'safetensors', '-o', back);
      const a = readTrace(c.file);
      const b = readTrace(back);
      // Router logits are float32 (a tensor read back): they must come back bitwise. Scores and some
      // families' weights are derived in float64 (softmax, renormalising) and stored as f32, as the format says.
      for (const l of moe(a)) {
        assert.ok([l.routerLogits, a.logits].every((m) => !m || m.every((row) => row.every((x) => Object.is(Math.fround(x), x)))), `${c.name}: f32 source values`);
      }
      // deepStrictEqual compares numbers with Object.is: every bit of every value, NaN and −0 included.
      assert.deepStrictEqual(b, asStored(a), c.name);
    }
  });

  test('CSV export → import gives back spans, text, layer numbers, experts and weights exactly', () => {
    for (const c of cases) {
      const csv = path.join(dir, `${c.name}.csv`);
      const back = path.join(dir, `${c.name}.csv.json`);
      run('export', c.file, '--format', 'csv', '-o', csv);
      run('import', csv, '--format', 'csv', '-o', back, '--experts', String(readTrace(c.file).model.numExperts));
      const a = readTrace(c.file);
      const b = readTrace(back);
      assert.deepStrictEqual(b.tokens.map((t) => [t.text, t.start, t.end]), a.tokens.map((t) => [t.text, t.start, t.end]), c.name);
      assert.deepStrictEqual(moe(b).map((l) => [l.layer, l.experts, l.weights]), moe(a).map((l) => [l.layer, l.experts, l.weights]), c.name);
      assert.equal(b.model.numExperts, a.model.numExperts);
      assert.ok(b.tokens.every((t) => t.id === null) && moe(b).every((l) => l.scores === null && l.routerLogits === null && l.sharedWeight === null), 'what CSV lacks is null');
    }
  });

  test('the CSV guards text cells against formula injection and leaves numbers as numbers', () => {
    const text = readFileSync(path.join(dir, 'demo.csv'), 'utf8');
    const cells = text.split('\r\n').slice(1).map((line) => line.split(',')[3]);
    assert.ok(cells.includes("'="), 'a token "=" is written as \'=');
    assert.ok(!cells.some((c) => /^[=+\-@]/.test(c)), 'no text cell starts with = + - @');
  });

  test('an npy of a trace\'s experts imports as the same experts', () => {
    for (const c of cases) {
      const npy = path.join(dir, `${c.name}.npy`);
      const back = path.join(dir, `${c.name}.npy.json`);
      const a = readTrace(c.file);
      run('export', c.file, '--format', 'npy', '-o', npy);
      run('import', npy, '--format', 'npy', '-o', back, '--layers', moe(a).map((l) => l.layer).join(','), '--experts', String(a.model.numExperts));
      const b = readTrace(back);
      assert.deepStrictEqual(moe(b).map((l) => [l.layer, l.experts]), moe(a).map((l) => [l.layer, l.experts]), c.name);
      assert.ok(moe(b).every((l) => l.weights === null), 'npy carries no weights: null');
    }
  });

  test('diff of two different documents: JSD in (0, 1] somewhere, no per-token changes without shared spans', () => {
    const other = path.join(dir, 'demo2.json');
    writeFileSync(other, run('trace', '--text', 'def f(x):\n    return [i * i for i in range(x)]\n', '--backend', 'cpu'));
    const diff = JSON.parse(run('diff', path.join(dir, 'demo.json'), other)) as TraceDiff;
    assert.ok(diff.layers.some((l) => l.jsd > 0) && diff.layers.every((l) => l.jsd >= 0 && l.jsd <= 1));
    assert.equal(diff.changes, null);
  });

  test('traces with different expert counts are refused in one line', () => {
    const a = path.join(dir, 'mixtral.json');
    const b = path.join(dir, 'demo.json');
    assert.throws(() => run('diff', a, b), (err: { stderr: string; status: number }) => {
      assert.equal(err.status, 1);
      assert.match(err.stderr, /^moe-lens: cannot compare: the traces route to different numbers of experts \(\d+ vs \d+\)/);
      assert.equal(err.stderr.trim().split('\n').length, 1);
      return true;
    });
  });
});
