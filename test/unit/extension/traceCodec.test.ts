import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packMatrix, packTrace, unpackMatrix, unpackTrace } from '../../../src/shared/tracePacking';
import { fakeTrace } from './helpers/fakeTrace';

describe('trace wire codec', () => {
  it('round-trips a trace: ids, weights, shared weights exactly; logits and scores at float32', async () => {
    const t = fakeTrace('The router picks experts.', { shared: true, experts: 16, k: 4, layers: 3 });
    const wire = JSON.parse(JSON.stringify(packTrace(t))) as unknown;
    const back = await unpackTrace(wire);
    const f32 = (rows: number[][] | null) => rows!.map((r) => r.map((x) => Math.fround(x)));
    assert.deepEqual(back, {
      ...t,
      layers: t.layers.map((l) => ({ ...l, routerLogits: f32(l.routerLogits), scores: f32(l.scores) })),
    });
    assert.notDeepEqual(back.layers[0].scores, t.layers[0].scores, 'fake scores are doubles, so rounding shows');
  });

  it('keeps NaN and ±Infinity (JSON would turn them into null)', () => {
    const m = [[NaN, Infinity], [-Infinity, -0.5]];
    assert.deepEqual(unpackMatrix(packMatrix(m)), m);
    assert.deepEqual(unpackMatrix(packMatrix(m, 'f32')), m);
  });

  it('handles ragged rows and empty matrices', () => {
    const ragged = [[1, 2, 3], [], [7]];
    const p = packMatrix(ragged, 'i32')!;
    assert.equal(p.cols, -1);
    assert.deepEqual(unpackMatrix(p), ragged);
    assert.deepEqual(unpackMatrix(packMatrix([])), []);
    assert.equal(unpackMatrix(null), null);
  });

  it('rejects malformed matrices', () => {
    const good = packMatrix([[1, 2], [3, 4]])!;
    assert.throws(() => unpackMatrix({ ...good, rows: 3 }), /does not match/);
    assert.throws(() => unpackMatrix({ ...good, dtype: 'u8' as 'f64' }), /bad header/);
    assert.throws(() => unpackMatrix({ ...good, cols: -1 }), /without offsets/);
    assert.throws(() => unpackMatrix({ ...good, data: 'AAA' }), /whole number|does not match/);
  });

  it('rejects a trace that is not packed', async () => {
    await assert.rejects(unpackTrace(fakeTrace('x')), /packing/);
    await assert.rejects(unpackTrace(null), /packing/);
  });

  it('is much smaller than JSON and unpacks in short steps', async () => {
    const t = fakeTrace('word '.repeat(1750), { experts: 16, k: 2, layers: 4 }); // 3,501 tokens
    const json = JSON.stringify(t).length;
    const packed = JSON.stringify(packTrace(t));
    assert.ok(packed.length < json * 0.4, `packed ${packed.length} vs JSON ${json}`);
    let longest = 0;
    let steps = 0;
    let last = performance.now();
    const t0 = performance.now();
    const parsed = JSON.parse(packed) as unknown;
    await unpackTrace(parsed, async () => {
      steps++;
      const now = performance.now();
      longest = Math.max(longest, now - last);
      await new Promise((r) => setImmediate(r));
      last = performance.now();
    });
    console.log(`# packed ${(packed.length / 1e6).toFixed(1)} MB vs JSON ${(json / 1e6).toFixed(1)} MB; unpack total ${(performance.now() - t0).toFixed(1)} ms, longest step ${longest.toFixed(1)} ms`);
    // The steps, not their duration: the unpack yields at least once per layer, so no step holds
    // more than one layer's matrices (timings belong in bench/).
    assert.ok(steps >= t.layers.length, `${steps} yields for ${t.layers.length} layers`);
  });
});
