/**
 * @file Golden check of one fixture folder through the built CLI, as a user runs it:
 * `node dist/cli.js trace --model test/fixtures/<f> --ids … --with-logits`, compared with what
 * transformers computed (expected.json, see test/fixtures/README.md).
 *
 * Tolerances (the issue's): router logits, scores and gate weights within 1e-4 absolute; the same
 * expert set for every token and MoE layer; logits within 1e-3 relative, i.e.
 * |Δ| ≤ 1e-3 · max(1, |reference|) element-wise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/engine/backend';
import { openCheckpoint } from '../../src/engine/checkpoint/checkpoint';
import { loadModel } from '../../src/engine/model';
import type { RoutingTrace } from '../../src/shared/trace';
import { readTraceJson } from '../../src/shared/traceCodec';
import { builtCli } from '../helpers/builtCli';
import { writeSafetensors, type TensorSpec } from '../helpers/writeSafetensors';

export const ROOT = path.resolve(__dirname, '..', '..');

export const TOL_ROUTER = 1e-4;
export const TOL_LOGITS_REL = 1e-3;

export interface ExpectedLayer {
  layer: number;
  module: string;
  router_logits: number[][]; // [T][E]
  router_scores?: number[][]; // [T][E], DeepSeek: sigmoid before the selection bias
  topk_indices: number[][]; // [T][k]
  topk_weights: number[][]; // [T][k]
}

export interface Expected {
  moe_layers: ExpectedLayer[];
  logits: number[][]; // [T][V]
}

/** What `moe-lens trace --with-logits` prints: the shared trace type, with logits present. */
export type CliTrace = RoutingTrace & { logits: number[][] };

export interface Fixture {
  dir: string;
  ids: number[];
  expected: Expected;
}

/** `name`: a folder under test/fixtures, e.g. 'gpt_oss' or 'variants/gpt_oss_b'. */
export function loadFixture(name: string): Fixture {
  const dir = path.join(ROOT, 'test', 'fixtures', ...name.split('/'));
  const input = JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8')) as { input_ids: number[][] };
  const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
  return { dir, ids: input.input_ids[0], expected };
}

/**
 * The engine configurations every golden family is checked on: the wasm backend on one thread and on
 * two (its threaded build, XNNPACK splitting the matmuls), and cpu (tfjs-node is optional and absent here).
 */
export const BACKENDS = ['wasm', 'wasm-2-threads', 'cpu'] as const;

/** A BACKENDS entry → the tfjs backend it runs and the CLI flags that select it. */
export function backendRun(run: string): { backend: string; args: string[] } {
  const m = /^(\w+)(?:-(\d+)-threads)?$/.exec(run);
  if (!m) {
    throw new Error(`golden: unknown backend run '${run}'`);
  }
  return { backend: m[1], args: ['--backend', m[1], ...(m[1] === 'wasm' ? ['--threads', m[2] ?? '1'] : [])] };
}

/** Runs the built CLI; `npm test` builds first, a lone run of a golden file rebuilds if dist/ is missing or stale. */
export function runCliTrace(fx: Fixture, run: string): CliTrace {
  const { backend, args } = backendRun(run);
  const out = execFileSync(
    process.execPath,
    [builtCli(), 'trace', '--model', fx.dir, '--ids', fx.ids.join(','), '--with-logits', ...args],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const trace = readTraceJson(out) as CliTrace; // the one trace reader: validated, non-finite numbers revived
  assert.equal(trace.backend, backend, 'the CLI ran another backend than asked');
  return trace;
}

/** Largest |a − b| over two equally shaped matrices (fails on a shape mismatch). */
export function maxAbsDiff(got: number[][], want: number[][], what: string): number {
  assert.equal(got.length, want.length, `${what}: ${got.length} rows, expected ${want.length}`);
  let worst = 0;
  want.forEach((row, t) => {
    assert.equal(got[t].length, row.length, `${what}[${t}]: ${got[t].length} columns, expected ${row.length}`);
    row.forEach((v, j) => (worst = Math.max(worst, Math.abs(got[t][j] - v))));
  });
  return worst;
}

export interface GoldenStats {
  routerLogits: number;
  scores: number;
  weights: number;
  logitsRel: number;
  surprisal: number;
}

/**
 * Checks every MoE layer and the logits; returns the worst differences seen.
 * `unordered`: compare each token's (expert, weight) pairs as a set (DeepSeek's topk(sorted=False));
 * otherwise the experts must also come in transformers' descending order.
 */
export function checkAgainstExpected(trace: CliTrace, fx: Fixture, opts: { unordered: boolean }): GoldenStats {
  const stats: GoldenStats = { routerLogits: 0, scores: 0, weights: 0, logitsRel: 0, surprisal: 0 };
  const T = fx.ids.length;
  assert.deepEqual(
    trace.model.moeLayers,
    fx.expected.moe_layers.map((l) => l.layer),
    'MoE layer numbers differ from transformers',
  );
  for (const want of fx.expected.moe_layers) {
    const got = trace.layers.find((l) => l.layer === want.layer);
    assert.ok(got && got.kind === 'moe', `layer ${want.layer} is not an MoE layer in the trace`);
    stats.routerLogits = Math.max(stats.routerLogits, maxAbsDiff(got.routerLogits!, want.router_logits, `layer ${want.layer} router logits`));
    if (want.router_scores) {
      stats.scores = Math.max(stats.scores, maxAbsDiff(got.scores!, want.router_scores, `layer ${want.layer} scores`));
    }
    assert.equal(got.experts!.length, T);
    for (let t = 0; t < T; t++) {
      const experts: number[] = got.experts![t];
      const weights: number[] = got.weights![t];
      const wantIdx = want.topk_indices[t];
      const wantW = want.topk_weights[t];
      const where = `layer ${want.layer}, token ${t}`;
      assert.deepEqual([...experts].sort((a, b) => a - b), [...wantIdx].sort((a, b) => a - b), `${where}: expert set ${experts} vs transformers ${wantIdx}`);
      if (!opts.unordered) {
        assert.deepEqual(experts, wantIdx, `${where}: expert order ${experts} vs transformers ${wantIdx}`);
      }
      for (const [j, e] of experts.entries()) {
        stats.weights = Math.max(stats.weights, Math.abs(weights[j] - wantW[wantIdx.indexOf(e)]));
      }
      for (let j = 1; j < weights.length; j++) {
        assert.ok(weights[j - 1] >= weights[j], `${where}: weights not in descending order`);
      }
    }
  }
  // Logits, and the surprisal the engine derives from them against the reference's log-softmax.
  assert.equal(trace.logits.length, T);
  fx.expected.logits.forEach((row, t) => {
    row.forEach((v, i) => (stats.logitsRel = Math.max(stats.logitsRel, Math.abs(trace.logits[t][i] - v) / Math.max(1, Math.abs(v)))));
    if (t + 1 < T) {
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      stats.surprisal = Math.max(stats.surprisal, Math.abs((trace.surprisal[t] as number) - (lse - row[fx.ids[t + 1]])));
    }
  });
  assert.equal(trace.surprisal[T - 1], null, 'the last token has no next token');
  assert.ok(stats.routerLogits <= TOL_ROUTER, `router logits differ by ${stats.routerLogits}`);
  assert.ok(stats.scores <= TOL_ROUTER, `scores differ by ${stats.scores}`);
  assert.ok(stats.weights <= TOL_ROUTER, `gate weights differ by ${stats.weights}`);
  assert.ok(stats.logitsRel <= TOL_LOGITS_REL, `logits differ by ${stats.logitsRel} (relative)`);
  assert.ok(stats.surprisal <= TOL_LOGITS_REL, `surprisal differs by ${stats.surprisal} nats`);
  return stats;
}

/** One line per family in the test log, so regressions in precision are visible before they fail. */
export function report(name: string, s: GoldenStats): void {
  const f = (v: number): string => v.toExponential(2);
  process.stdout.write(
    `# ${name}: max |Δ| router logits ${f(s.routerLogits)}, scores ${f(s.scores)}, weights ${f(s.weights)}; logits rel ${f(s.logitsRel)}; surprisal ${f(s.surprisal)}\n`,
  );
}

/**
 * In-process: a run leaves no tensor behind, a second run gives the same routing, and dispose frees
 * every weight (tensor count back to where it was before loading).
 */
export async function checkNoLeak(fx: Fixture): Promise<void> {
  await initBackend('wasm');
  const start = tf.memory().numTensors;
  const model = await loadModel(fx.dir, { backend: 'wasm' });
  const loaded = tf.memory().numTensors;
  const first = await model.run(fx.ids);
  assert.equal(tf.memory().numTensors, loaded, 'a run left tensors behind');
  const second = await model.run(fx.ids);
  assert.equal(tf.memory().numTensors, loaded, 'a second run left tensors behind');
  assert.deepEqual(second.layers, first.layers, 'two runs of the same ids route identically');
  model.dispose();
  assert.equal(tf.memory().numTensors, start, 'dispose left weight tensors behind');
}

/** A copy of the fixture's checkpoint with its tensors edited (all written back as F32 unless edited). */
export async function editedCopy(fx: Fixture, edit: (tensors: Record<string, TensorSpec>) => void): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-golden-'));
  copyFileSync(path.join(fx.dir, 'config.json'), path.join(dir, 'config.json'));
  const ckpt = await openCheckpoint(fx.dir);
  const tensors: Record<string, TensorSpec> = {};
  try {
    for (const name of ckpt.names()) {
      tensors[name] = { dtype: 'F32', shape: ckpt.info(name).shape, data: await ckpt.readFloat32(name) };
    }
  } finally {
    await ckpt.close();
  }
  edit(tensors);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}
