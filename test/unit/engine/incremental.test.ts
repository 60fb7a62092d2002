/**
 * Incremental re-analysis (windowCache.ts, analysisCache.ts): after edits at the start, the middle,
 * the end, across a window boundary, a deletion and an insertion, the trace reusing the last
 * analysis equals a fresh full analysis exactly (every field but timing), on the embedded model
 * (qwen2_moe attention) and on the DeepSeek-V3 fixture (its own MLA attention, YaRN rope); and it
 * really recomputes only the tail. Plus: a cancel mid-run leaves the cache as it was, the cache
 * is bounded, and a model switch (disposing the runtime's model) frees it.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AnalysisCache } from '../../../src/engine/analysisCache';
import { QUERY_BLOCK } from '../../../src/engine/attention';
import { FIRST_TOKENS, traceIds, type TraceOptions } from '../../../src/engine/analyze';
import { tf } from '../../../src/engine/backend';
import { defaultModelDir, loadModel, type Model } from '../../../src/engine/model';
import { createRealRuntime } from '../../../src/engine/rpc/realRuntime';
import { reusablePositions } from '../../../src/engine/windowCache';
import type { RoutingTrace } from '../../../src/shared/trace';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The trace without its timing, the one field that differs between two runs. */
function content(t: RoutingTrace): RoutingTrace {
  return { ...t, timing: undefined };
}

/** The model, counting the positions each window run actually computes. */
function counting(model: Model): { model: Model; computed: () => number; reset(): void } {
  let n = 0;
  const runCached = model.runCached!.bind(model);
  const wrapped: Model = Object.assign(Object.create(model) as Model, {
    runCached: (ids: number[], prev: Parameters<typeof runCached>[1], o?: Parameters<typeof runCached>[2]) => {
      n += ids.length - reusablePositions(prev, ids);
      return runCached(ids, prev, o);
    },
  });
  return { model: wrapped, computed: () => n, reset: () => (n = 0) };
}

/** A deterministic id sequence of length n below `vocab`. */
function doc(n: number, vocab: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729 + ((i * i) % 13)) % vocab);
}

/**
 * Windows a little longer than one query block (attention.ts), overlapping by 24, over three
 * windows' worth of tokens: edits land before and after a block edge and inside a window overlap.
 */
const SIZE = QUERY_BLOCK + 40;
const WINDOWS: Partial<TraceOptions> = { maxTokensPerWindow: SIZE, windowOverlap: 24 };
const LENGTH = 3 * SIZE - 100;

function edits(base: number[], vocab: number): [string, number[]][] {
  const other = (i: number): number => (base[i] + 1) % vocab;
  const boundary = SIZE - 10; // in window 0, inside the overlap with window 1
  return [
    ['append one token at the end', [...base, other(0)]],
    ['change the last token', [...base.slice(0, -1), other(base.length - 1)]],
    ['change a token in window 0 after its first query block', base.map((id, i) => (i === QUERY_BLOCK + 10 ? other(i) : id))],
    ['insert across the window 0/1 boundary (overlap)', [...base.slice(0, boundary), other(boundary), ...base.slice(boundary)]],
    ['delete a token in window 1', [...base.slice(0, SIZE + 50), ...base.slice(SIZE + 51)]],
    ['insert in the last window', [...base.slice(0, LENGTH - 30), other(5), other(6), ...base.slice(LENGTH - 30)]],
    ['change the first token', [other(0), ...base.slice(1)]],
    ['the same text again', base],
    ['cut the end', base.slice(0, LENGTH - 60)],
  ];
}

function exactnessSuite(name: string, dir: string, backend: 'wasm' | 'cpu', vocab: number, only?: RegExp): void {
  describe(`${name} on ${backend}: incremental trace = full trace`, () => {
    let model: Model;
    before(async () => {
      model = await loadModel(dir, { backend });
    });
    after(() => model.dispose());

    test('after each edit, exactly; only the changed tail is recomputed', async () => {
      const store = new AnalysisCache();
      const { model: m, computed, reset } = counting(model);
      let current = doc(LENGTH, vocab, 1);
      await traceIds(m, current, { ...WINDOWS, cache: { store, key: 'doc' } });
      for (const [what, next] of edits(current, vocab).filter(([w]) => !only || only.test(w))) {
        reset();
        const incremental = await traceIds(m, next, { ...WINDOWS, cache: { store, key: 'doc' } });
        const full = await traceIds(model, next, WINDOWS);
        assert.deepStrictEqual(content(incremental), content(full), what);
        const windows = full.windows ?? [{ start: 0, end: next.length, overlap: 0 }];
        const windowTokens = windows.reduce((s, w) => s + w.end - w.start, 0);
        assert.ok(computed() < windowTokens, `${what}: ${computed()} of ${windowTokens} window positions recomputed`);
        current = next;
      }
      // Appending one token to the last window recomputes two positions (the new one and the one before it, whose next token changed).
      reset();
      await traceIds(m, [...current, 1], { ...WINDOWS, cache: { store, key: 'doc' } });
      assert.equal(computed(), 2);
      store.clear();
    });
  });
}

// The embedded model is the slowest here: the edits that cross a block, a window overlap, and change the length.
exactnessSuite('the embedded model', defaultModelDir(), 'wasm', 4096, /append|after its first|boundary|delete|first token/);
exactnessSuite('deepseek_v3 fixture (MLA)', path.join(ROOT, 'test', 'fixtures', 'deepseek_v3'), 'wasm', 512);
// The cpu backend is slow: one edit, across a window boundary, and the append.
exactnessSuite('deepseek_v3 fixture (MLA)', path.join(ROOT, 'test', 'fixtures', 'deepseek_v3'), 'cpu', 512, /boundary/);

describe('the cache stays consistent', () => {
  let model: Model;
  before(async () => {
    model = await loadModel(path.join(ROOT, 'test', 'fixtures', 'qwen2_moe'), { backend: 'wasm' });
  });
  after(() => model.dispose());

  test('a cancel mid-run frees what the run made and keeps the last analysis usable', async () => {
    const store = new AnalysisCache();
    const base = doc(LENGTH, 256, 2);
    await traceIds(model, base, { ...WINDOWS, cache: { store, key: 'doc' } });
    const tensors = tf.memory().numTensors;
    const bytes = store.bytes;
    const edited = [...base.slice(0, 100), 7, ...base.slice(100)];
    const abort = new AbortController();
    await assert.rejects(
      traceIds(model, edited, {
        ...WINDOWS,
        cache: { store, key: 'doc' },
        signal: abort.signal,
        // Cancel in the second window, after some of its layers ran (and made keys/values).
        onProgress: (f) => f > 0.5 && abort.abort(),
      }),
      (err: Error) => err.name === 'AbortError',
    );
    assert.equal(tf.memory().numTensors, tensors, 'the cancelled run left tensors behind');
    assert.equal(store.bytes, bytes, 'the cancelled run changed the cache');
    const incremental = await traceIds(model, edited, { ...WINDOWS, cache: { store, key: 'doc' } });
    assert.deepStrictEqual(content(incremental), content(await traceIds(model, edited, WINDOWS)));
    store.clear();
  });

  test('bounded: the least recently analysed document goes first, and its tensors with it', async () => {
    const probe = new AnalysisCache();
    await traceIds(model, doc(100, 256, 3), { cache: { store: probe, key: 'probe' } });
    const one = probe.bytes;
    probe.clear();
    const tensors = tf.memory().numTensors;
    const store = new AnalysisCache(Math.floor(one * 2.5));
    for (const key of ['a', 'b', 'c']) {
      await traceIds(model, doc(100, 256, key.charCodeAt(0)), { cache: { store, key } });
    }
    assert.deepEqual(store.documents, ['b', 'c']);
    assert.ok(store.bytes <= store.capBytes);
    store.clear();
    assert.equal(tf.memory().numTensors, tensors);
    // One window bigger than the cap: not kept, and a run over several such windows holds none of them.
    const tiny = new AnalysisCache(one - 1);
    await traceIds(model, doc(100, 256, 4), { cache: { store: tiny, key: 'big' } });
    await traceIds(model, doc(300, 256, 4), { maxTokensPerWindow: 100, windowOverlap: 10, cache: { store: tiny, key: 'big' } });
    assert.deepEqual(tiny.documents, [], 'a document bigger than the cap is not kept');
    assert.equal(tf.memory().numTensors, tensors);
  });
});

describe('model switch and streamed models', () => {
  test('disposing the runtime model (what a switch does) frees every cached tensor', async () => {
    const runtime = createRealRuntime(() => undefined);
    await tf.ready();
    const before0 = tf.memory().numTensors;
    const loaded = await runtime.load(defaultModelDir(), 'wasm', {});
    const afterLoad = tf.memory().numTensors;
    const opts = { windowSize: 0, windowOverlap: 0, specialTokensInText: 'text' as const, documentKey: 'file:///a.txt' };
    await loaded.analyze('hello world, hello again', opts);
    assert.ok(tf.memory().numTensors > afterLoad, 'the analysis left its keys and values in the cache');
    const withKey = await loaded.analyze('hello world, hello again!', opts);
    const without = await loaded.analyze('hello world, hello again!', { ...opts, documentKey: undefined });
    assert.deepStrictEqual(content(withKey), content(without));
    loaded.dispose();
    assert.equal(tf.memory().numTensors, before0);
  });

  test('a streamed model has no cached run: the analysis runs whole', async () => {
    const dir = path.join(ROOT, 'test', 'fixtures', 'qwen2_moe');
    const resident = await loadModel(dir, { backend: 'wasm' });
    const minimum = resident.plan.minimumBytes;
    resident.dispose();
    const streamed = await loadModel(dir, { backend: 'wasm', maxMemoryBytes: minimum });
    try {
      assert.equal(streamed.plan.mode, 'streamed');
      assert.equal(streamed.runCached, undefined);
      const store = new AnalysisCache();
      await traceIds(streamed, doc(40, 256, 5), { cache: { store, key: 'doc' } });
      assert.deepEqual(store.documents, []);
    } finally {
      streamed.dispose();
    }
  });
});

describe("the top of a document first (onFirstWindow with the document cache)", () => {
  let model: Model;
  before(async () => {
    model = await loadModel(defaultModelDir(), { backend: 'wasm' });
  });
  after(() => model.dispose());

  test(`the first ${FIRST_TOKENS} tokens are handed over first; the trace is the one-pass trace exactly, and no tensor stays behind`, async () => {
    for (const n of [1000, 1700]) {
      const ids = doc(n, 4000, n);
      const store = new AnalysisCache();
      const before = tf.memory().numTensors;
      const partials: RoutingTrace[] = [];
      const full = await traceIds(model, ids, { cache: { store, key: 'doc' }, onFirstWindow: (t) => void partials.push(t) });
      assert.equal(partials.length, 1, `${n} tokens: handed over once`);
      const [p] = partials;
      assert.equal(p.tokens.length, FIRST_TOKENS);
      const plain = content(await traceIds(model, ids));
      assert.deepStrictEqual(content(full), plain, `${n} tokens: split = one pass`);
      p.layers.forEach((l, i) => assert.deepStrictEqual(l.routerLogits, plain.layers[i].routerLogits!.slice(0, FIRST_TOKENS), `${n} tokens, layer ${l.layer}`));
      assert.deepStrictEqual(p.surprisal, [...plain.surprisal.slice(0, FIRST_TOKENS - 1), null]);
      store.clear();
      assert.equal(tf.memory().numTensors, before, `${n} tokens: tensors left behind`);
      // Analysed before: the cache covers the top, nothing is split again.
      const again: RoutingTrace[] = [];
      const store2 = new AnalysisCache();
      await traceIds(model, ids, { cache: { store: store2, key: 'doc' } });
      await traceIds(model, [...ids.slice(0, -1), 5], { cache: { store: store2, key: 'doc' }, onFirstWindow: (t) => void again.push(t) });
      assert.equal(again.length, n > 1024 ? 1 : 0, `${n} tokens, re-analysed: only a second window makes a hand-over`);
      assert.equal(again[0]?.tokens.length ?? 1024, 1024);
      store2.clear();
    }
  });
});
