/**
 * The trace written in pieces is, joined, exactly JSON.stringify with non-finite numbers as
 * strings, at any indent; and no piece is the whole document, so nothing builds the document as
 * one string (a 10k-token trace with logits is longer than V8's longest string).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { RoutingTrace } from '../../../src/shared/trace';
import { nonFiniteAsString, traceJsonPieces, writeTraceJson } from '../../../src/shared/traceJson';

function trace(T: number, V: number): RoutingTrace {
  const row = (t: number, n: number): number[] => Array.from({ length: n }, (_, i) => (i === 1 ? NaN : i === 2 ? -Infinity : i === 3 ? Infinity : (t + 1) * 0.001 * i));
  return {
    schema: 'moe-lens.trace/1',
    model: { path: 'embedded', name: 'x "quoted" \u001b[31m', modelType: 'qwen2_moe', numLayers: 2, numExperts: 4, topK: 2, vocabSize: V, gate: 'softmax-raw', gateDescription: 'd', hasSharedExpert: true, moeLayers: [0] },
    backend: 'cpu',
    tokens: Array.from({ length: T }, (_, t) => ({ id: t, text: t % 2 ? 'é\n' : null, start: t % 2 ? t : null, end: t % 2 ? t + 1 : null, ...(t === 0 ? { partial: true } : {}) })),
    layers: [
      { layer: 0, kind: 'moe', routerLogits: Array.from({ length: T }, (_, t) => row(t, 4)), scores: Array.from({ length: T }, (_, t) => row(t, 4)), experts: Array.from({ length: T }, () => [1, 0]), weights: Array.from({ length: T }, () => [0.6, 0.4]), sharedWeight: Array.from({ length: T }, () => NaN) },
      { layer: 1, kind: 'dense', routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null },
    ],
    surprisal: Array.from({ length: T }, (_, t) => (t === T - 1 ? null : 1.5)),
    windows: [],
    logits: Array.from({ length: T }, (_, t) => row(t, V)),
    timing: undefined,
  };
}

describe('traceJsonPieces', () => {
  for (const indent of [undefined, 0, 1, 2]) {
    it(`joins to JSON.stringify with non-finite numbers as strings (indent ${indent})`, () => {
      const t = trace(7, 50);
      assert.equal([...traceJsonPieces(t, indent)].join(''), JSON.stringify(t, nonFiniteAsString, indent));
    });
  }

  it('comes in bounded pieces, never the whole document', () => {
    const t = trace(400, 2000);
    const pieces = [...traceJsonPieces(t)];
    const whole = JSON.stringify(t, nonFiniteAsString);
    assert.equal(pieces.join(''), whole);
    assert.ok(pieces.length > 10, `${pieces.length} pieces`);
    // One piece holds at most ~64 K characters plus one logits row.
    assert.ok(Math.max(...pieces.map((p) => p.length)) < 64 * 1024 + 2000 * 25);
  });

  it('non-finite numbers read back as the strings "NaN", "Infinity", "-Infinity"', () => {
    const back = JSON.parse([...traceJsonPieces(trace(2, 5))].join('')) as { logits: unknown[][] };
    assert.deepEqual(back.logits[0].slice(1, 4), ['NaN', '-Infinity', 'Infinity']);
  });
});

describe('writeTraceJson', () => {
  it('waits for the stream when it asks to (backpressure) and writes the whole document', async () => {
    const t = trace(300, 1000);
    const out = new PassThrough({ highWaterMark: 1024 });
    const chunks: Buffer[] = [];
    let drains = 0;
    out.on('drain', () => drains++);
    const done = writeTraceJson(t, out);
    out.on('data', (c: Buffer) => chunks.push(c));
    await done;
    out.end();
    assert.ok(drains > 0, 'the writer waited for drain');
    assert.equal(Buffer.concat(chunks).toString('utf8'), JSON.stringify(t, nonFiniteAsString));
  });
});
