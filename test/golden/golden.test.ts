/**
 * Golden numerics: the built CLI (`node dist/cli.js trace --with-logits`) against what Hugging Face
 * transformers computed for the same tiny checkpoints (test/fixtures/<family>/expected.json; see
 * test/fixtures/README.md for how each was made).
 *
 * Tolerances (float32 engines agree to ~1e-5 here; these leave headroom, not slack):
 *   router logits and gate weights: |ours − ref| ≤ 1e-4 absolute
 *   chosen experts: the same set for every token and layer, compared as (expert, weight) pairs
 *     (DeepSeek's reference uses topk(sorted=False)), and ours in descending weight order
 *   scores (where the reference has them) and shared-expert weights σ(g·x): ≤ 1e-4 absolute
 *   logits: |ours − ref| ≤ 1e-3 · max(|ref|, 1)  (relative, with a floor so logits near 0 are not over-weighted)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import type { RoutingTrace } from '../../src/shared/trace';
import { readTraceJson } from '../../src/shared/traceCodec';
import { supportedModelTypes } from '../../src/engine/registry';
import { builtCli } from '../helpers/builtCli';
import { BACKENDS, backendRun } from './fixtureGolden';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures');
let cli = '';

interface ExpectedLayer {
  layer: number;
  router_logits: number[][];
  topk_indices: number[][];
  topk_weights: number[][];
  router_scores?: number[][];
  shared_expert_gate_logits?: number[];
}
interface Expected {
  model_type: string;
  moe_layers: ExpectedLayer[];
  logits: number[][];
}

const ROUTER_TOL = 1e-4;
const LOGIT_REL_TOL = 1e-3;

// deepseek_v3 and gpt_oss have their own golden files beside this one. The *_sw folders are
// variants with sliding windows, dense layers, tied embeddings, MQA, YaRN / llama3 RoPE (see their MADE_BY.md).
// A missing fixture or an unregistered model_type fails its test; neither is skipped.
const families = ['granitemoe', 'mixtral', 'olmoe', 'qwen2_moe', 'qwen3_moe', 'mixtral_sw', 'qwen2_moe_sw', 'qwen3_moe_sw'];

function runTrace(dir: string, ids: number[], run: string): RoutingTrace {
  const out = execFileSync(process.execPath, [cli, 'trace', '--model', dir, '--ids', ids.join(','), '--with-logits', ...backendRun(run).args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return readTraceJson(out);
}

before(() => {
  // `npm test` builds first; a lone run of this file rebuilds if dist/ is missing or older than src/.
  cli = builtCli();
});

describe('golden: moe-lens trace matches transformers', () => {
  for (const family of families) {
    const dir = path.join(fixtures, family);
    // The variants exercise config paths, not backends: the default backend (every core) is enough for them.
    for (const backend of family.endsWith('_sw') ? ['wasm-2-threads'] : BACKENDS) {
      test(`${family} (${backend})`, (t) => {
        const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
        const ids = (JSON.parse(fs.readFileSync(path.join(dir, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0];
        assert.ok(supportedModelTypes().includes(expected.model_type), `model_type ${expected.model_type} is not registered`);
        const trace = runTrace(dir, ids, backend);
        assert.equal(trace.backend, backendRun(backend).backend);
        assert.equal(trace.tokens.length, ids.length);
        const errs = { routerLogits: 0, weights: 0, scores: 0, shared: 0, logitsAbs: 0 };
        const refLayers = expected.moe_layers.map((l) => l.layer);
        for (const l of trace.layers) {
          assert.equal(l.kind, refLayers.includes(l.layer) ? 'moe' : 'dense', `layer ${l.layer} kind`);
        }
        for (const ref of expected.moe_layers) {
          const ours = trace.layers.find((l) => l.layer === ref.layer);
          assert.ok(ours && ours.kind === 'moe', `layer ${ref.layer} should be a MoE layer`);
          ref.router_logits.forEach((row, tok) =>
            row.forEach((v, e) => (errs.routerLogits = Math.max(errs.routerLogits, Math.abs(v - ours.routerLogits![tok][e])))),
          );
          ref.topk_indices.forEach((row, tok) => {
            const mine = ours.experts![tok];
            assert.deepEqual([...mine].sort((a, b) => a - b), [...row].sort((a, b) => a - b), `layer ${ref.layer} token ${tok}: expert set`);
            row.forEach((e, j) => {
              errs.weights = Math.max(errs.weights, Math.abs(ref.topk_weights[tok][j] - ours.weights![tok][mine.indexOf(e)]));
            });
            const w = ours.weights![tok];
            assert.ok(w.every((v, j) => j === 0 || w[j - 1] >= v), `layer ${ref.layer} token ${tok}: weights descending`);
          });
          ref.router_scores?.forEach((row, tok) => row.forEach((v, e) => (errs.scores = Math.max(errs.scores, Math.abs(v - ours.scores![tok][e])))));
          ref.shared_expert_gate_logits?.forEach((g, tok) => {
            errs.shared = Math.max(errs.shared, Math.abs(1 / (1 + Math.exp(-g)) - ours.sharedWeight![tok]));
          });
        }
        let worstRel = 0;
        expected.logits.forEach((row, tok) =>
          row.forEach((v, i) => {
            const diff = Math.abs(v - trace.logits![tok][i]);
            errs.logitsAbs = Math.max(errs.logitsAbs, diff);
            worstRel = Math.max(worstRel, diff / Math.max(Math.abs(v), 1));
          }),
        );
        t.diagnostic(`max abs error: ${JSON.stringify(errs)}; logits scaled ${worstRel.toExponential(2)}`);
        assert.ok(errs.routerLogits <= ROUTER_TOL, `router logits off by ${errs.routerLogits}`);
        assert.ok(errs.weights <= ROUTER_TOL, `gate weights off by ${errs.weights}`);
        assert.ok(errs.scores <= ROUTER_TOL, `scores off by ${errs.scores}`);
        assert.ok(errs.shared <= ROUTER_TOL, `shared-expert weights off by ${errs.shared}`);
        assert.ok(worstRel <= LOGIT_REL_TOL, `logits off by ${worstRel} (relative)`);
        // Surprisal is −log softmax(logits)[next id]: check it against the reference logits.
        for (let tok = 0; tok + 1 < ids.length; tok++) {
          const row = expected.logits[tok];
          const max = Math.max(...row);
          const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
          assert.ok(Math.abs(lse - row[ids[tok + 1]] - trace.surprisal[tok]!) < 1e-3, `surprisal of token ${tok}`);
        }
        assert.equal(trace.surprisal[ids.length - 1], null);
      });
    }
  }
});
