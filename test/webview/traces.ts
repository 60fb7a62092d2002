/**
 * @file Traces for the browser test, from a real model run, best first:
 *   1. the engine CLI (`dist/cli.js trace --text`) on the embedded demo model with DOCUMENT: real
 *      tokens, real spans, real routing (with a shared expert);
 *   2. the engine CLI on the mixtral fixture with `--ids`, the tokens then given DOCUMENT_PIECES
 *      as their text (real routing, made-up spans);
 *   3. the mixtral fixture's expected.json (computed by transformers itself), same made-up spans.
 * The 20,000-token trace for timing is synthetic (synthetic.js): it measures drawing, not routing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { softmax } from '../../src/shared/routerMath';
import type { RoutingTrace } from '../../src/shared/trace';
import { readTraceJson } from '../../src/shared/traceCodec';

const root = join(__dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'mixtral');

interface Expected {
  moe_layers: { layer: number; router_logits: number[][]; topk_indices: number[][]; topk_weights: number[][] }[];
  logits: number[][];
}

function inputIds(): number[] {
  return (JSON.parse(readFileSync(join(fixture, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0]!;
}

/** The engine's own trace, or null when the CLI or the model is not there. */
function engineTrace(args: string[]): RoutingTrace | null {
  const cli = join(root, 'dist', 'cli.js');
  if (!existsSync(cli)) {
    return null;
  }
  const r = spawnSync(process.execPath, [cli, 'trace', ...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000 });
  if (r.status !== 0) {
    return null;
  }
  try {
    return readTraceJson(r.stdout);
  } catch {
    return null;
  }
}

function referenceTrace(ids: number[]): RoutingTrace {
  const e = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as Expected;
  const layers = e.moe_layers.map((l) => ({
    layer: l.layer,
    kind: 'moe' as const,
    routerLogits: l.router_logits,
    scores: l.router_logits.map((row) => softmax(row)),
    experts: l.topk_indices,
    weights: l.topk_weights,
    sharedWeight: null,
  }));
  const surprisal = ids.map((_, t) => (t + 1 < ids.length ? -Math.log(softmax(e.logits[t]!)[ids[t + 1]!]!) : null));
  return {
    schema: 'moe-lens.trace/1',
    model: {
      path: fixture,
      name: 'tiny-random-mixtral',
      modelType: 'mixtral',
      numLayers: layers.length,
      numExperts: 8,
      topK: 2,
      vocabSize: 512,
      gate: 'softmax-renormalized',
      gateDescription: 'Softmax over all experts, top-k, renormalised so the k weights sum to 1.',
      hasSharedExpert: false,
      moeLayers: layers.map((l) => l.layer),
    },
    backend: 'reference',
    tokens: ids.map((id) => ({ id, text: null, start: null, end: null })),
    layers,
    surprisal,
  };
}

/** Where the fixture trace came from, for the test's printout. */
export let traceSource = '';

export function fixtureTrace(): RoutingTrace {
  const ids = inputIds();
  const t = engineTrace(['--model', fixture, '--ids', ids.join(',')]);
  traceSource = t ? 'engine CLI (dist/cli.js trace --ids) on test/fixtures/mixtral' : 'test/fixtures/mixtral/expected.json (transformers reference)';
  return t ?? referenceTrace(ids);
}

/** The real trace of a document with markup in it, and its text (see the file comment for the order tried). */
export function documentTrace(): { trace: RoutingTrace; text: string } {
  const demo = join(root, 'models', 'demo');
  // MOE_LENS_WEBVIEW_TRACE=fixture skips the demo model (to exercise the fallback).
  if (process.env.MOE_LENS_WEBVIEW_TRACE !== 'fixture' && existsSync(join(demo, 'model.safetensors')) && existsSync(join(demo, 'tokenizer.json'))) {
    const t = engineTrace(['--model', demo, '--text', DOCUMENT]);
    if (t) {
      traceSource = 'engine CLI (dist/cli.js trace --text) on models/demo';
      return { trace: t, text: DOCUMENT };
    }
  }
  return withDocument(fixtureTrace(), DOCUMENT_PIECES);
}

/** Gives the trace's tokens the given texts, end to end, as a document. */
export function withDocument(trace: RoutingTrace, pieces: string[]): { trace: RoutingTrace; text: string } {
  if (pieces.length !== trace.tokens.length) {
    throw new Error(`need ${trace.tokens.length} pieces, got ${pieces.length}`);
  }
  let at = 0;
  const tokens = trace.tokens.map((t, i) => {
    const s = pieces[i]!;
    at += s.length;
    return { id: t.id, text: s, start: at - s.length, end: at };
  });
  return { trace: { ...trace, tokens }, text: pieces.join('') };
}

/** 24 pieces of a small code document with markup that must stay text. */
export const DOCUMENT_PIECES = [
  'function',
  ' greet',
  '(name)',
  ' {\n',
  '  const',
  ' html',
  ' =',
  " '<img src=x onerror=window.__pwned=1>'",
  ';\n',
  '  // ',
  '</script>',
  '<script>window.__pwned=2</script>',
  '\n',
  '  return',
  ' `Hello, ',
  '${name}',
  '`',
  ';\n',
  '}\n',
  '\n',
  'greet',
  "('wörld",
  " 🙂')",
  ';\n',
];

/** The document the demo model reads: the pieces above, then repeats so some tokens recur. */
export const DOCUMENT = DOCUMENT_PIECES.join('') + "greet('world');\ngreet('world');\n\tif (name) { return name; }\n";
