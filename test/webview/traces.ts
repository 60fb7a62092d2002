/**
 * @file Traces for the browser test. The routing comes from a real model run: the engine CLI on
 * the mixtral fixture when `dist/cli.js trace` exists, otherwise the fixture's own expected.json
 * (router logits, chosen experts, applied weights and logits computed by transformers itself).
 * Tokens are then given a document text, so the test can check how the text is laid out.
 * The 20,000-token trace for timing is synthetic: it measures drawing, not routing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { softmax } from '../../src/shared/routingStats';
import type { RoutingTrace } from '../../src/shared/trace';

const root = join(__dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'mixtral');

interface Expected {
  moe_layers: { layer: number; router_logits: number[][]; topk_indices: number[][]; topk_weights: number[][] }[];
  logits: number[][];
}

function inputIds(): number[] {
  return (JSON.parse(readFileSync(join(fixture, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0]!;
}

/** The engine's own trace of the fixture, or null when the CLI has no `trace` command yet. */
function engineTrace(ids: number[]): RoutingTrace | null {
  const cli = join(root, 'dist', 'cli.js');
  if (!existsSync(cli)) {
    return null;
  }
  const r = spawnSync(process.execPath, [cli, 'trace', '--model', fixture, '--ids', ids.join(',')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    return null;
  }
  try {
    return JSON.parse(r.stdout) as RoutingTrace;
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
  const t = engineTrace(ids);
  traceSource = t ? 'engine CLI (dist/cli.js trace) on test/fixtures/mixtral' : 'test/fixtures/mixtral/expected.json (transformers reference)';
  return t ?? referenceTrace(ids);
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
  " '<img src=x onerror=alert(1)>'",
  ';\n',
  '  // ',
  '</script>',
  '<script>alert(2)</script>',
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

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A synthetic trace of `T` tokens over a code-like document, with windows, for timing. */
export function syntheticTrace(T: number, L: number, E: number, k: number): { trace: RoutingTrace; text: string } {
  const r = rng(42);
  const words = ['const', ' x', ' =', ' 1', ';', '\n', '  ', 'return', ' value', '(', ')', ' {', '}', ' +', ' foo', '.bar', '\n\n'];
  const pieces: string[] = [];
  for (let t = 0; t < T; t++) {
    pieces.push(words[Math.floor(r() * words.length)]!);
  }
  const layers = Array.from({ length: L }, (_, layer) => {
    const logits: number[][] = [];
    const experts: number[][] = [];
    const weights: number[][] = [];
    for (let t = 0; t < T; t++) {
      const l = Array.from({ length: E }, () => (r() - 0.5) * 6);
      const p = softmax(l);
      const order = p.map((_, i) => i).sort((a, b) => p[b]! - p[a]!);
      const top = order.slice(0, k);
      const s = top.reduce((a, i) => a + p[i]!, 0);
      logits.push(l);
      experts.push(top);
      weights.push(top.map((i) => p[i]! / s));
    }
    return { layer, kind: 'moe' as const, routerLogits: logits, scores: logits.map((x) => softmax(x)), experts, weights, sharedWeight: null };
  });
  const windowSize = 4096;
  const overlap = 256;
  const windows = [];
  for (let s = 0; s < T; s += windowSize - overlap) {
    windows.push({ start: s, end: Math.min(T, s + windowSize), overlap: s === 0 ? 0 : overlap });
    if (s + windowSize >= T) {
      break;
    }
  }
  const base: RoutingTrace = {
    schema: 'moe-lens.trace/1',
    model: {
      path: 'synthetic',
      name: 'synthetic',
      modelType: 'mixtral',
      numLayers: L,
      numExperts: E,
      topK: k,
      vocabSize: words.length,
      gate: 'softmax-renormalized',
      gateDescription: 'Synthetic routing for timing.',
      hasSharedExpert: false,
      moeLayers: layers.map((l) => l.layer),
    },
    backend: 'synthetic',
    tokens: pieces.map((_, i) => ({ id: words.indexOf(pieces[i]!), text: null, start: null, end: null })),
    layers,
    surprisal: pieces.map((_, i) => (i === T - 1 ? null : r() * 8)),
    windows,
  };
  return withDocument(base, pieces);
}
