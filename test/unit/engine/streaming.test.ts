/**
 * @file The memory budget and layer streaming: a run streamed from disk under a budget at the plan's
 * minimum gives the trace of a resident run bit for bit on every family fixture (and on BF16 baby
 * models); a budget below the minimum is refused naming it; a streamed model holds no layer
 * between layers; a cancel anywhere inside a layer leaves no tensor behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { forward } from '../../../src/engine/forward';
import { buildDecoder, disposeDecoder } from '../../../src/engine/layers';
import { loadModel, type Model, type RunOptions } from '../../../src/engine/model';
import { familyFor } from '../../../src/engine/registry';
import { budgetFromEnv } from '../../../src/engine/rpc/realRuntime';
import { StreamedWeights, type ElementRange } from '../../../src/engine/weightSource';
import { makeBabyModel, type Family } from './babyModel';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures');
const folders = [
  'mixtral', 'mixtral_sw', 'qwen2_moe', 'qwen2_moe_sw', 'qwen3_moe', 'qwen3_moe_sw', 'olmoe', 'granitemoe', 'deepseek_v3', 'gpt_oss',
  'variants/olmoe_b', 'variants/granitemoe_b', 'variants/deepseek_v3_b', 'variants/gpt_oss_b',
  'quantised/gpt_oss_mxfp4', 'quantised/deepseek_v3_fp8', 'quantised/qwen3_moe_fp8', // dequantised per expert / per layer as read
].map((f) => path.join(fixtures, f));
const babies: Family[] = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'];

const MB = 2 ** 20;

before(async () => {
  await initBackend('cpu');
});

async function runOnce(model: Model, ids: number[], opts: RunOptions = {}): Promise<unknown> {
  try {
    return await model.run(ids, { withLogits: true, ...opts });
  } finally {
    model.dispose();
  }
}

describe('streamed runs equal resident runs', () => {
  // The golden fixtures on the cpu backend; BF16 baby models (16-bit weights held as stored) on wasm, the default.
  const cases = [
    ...folders.map((dir) => ({ name: path.relative(fixtures, dir), dir: () => dir, backend: 'cpu' as const })),
    ...babies.map((f) => ({ name: `baby ${f} BF16 (wasm)`, dir: () => makeBabyModel(f, {}, 11, undefined, 'BF16'), backend: 'wasm' as const })),
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = c.dir();
      const backend = c.backend;
      const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
      const resident = await loadModel(dir, { backend });
      const { minimumBytes, storedBytes } = resident.plan;
      assert.deepEqual([resident.plan.mode, resident.plan.headCached], ['resident', true]);
      const expected = await runOnce(resident, ids);
      // At the minimum: streamed, one expert at a time.
      const streamed = await loadModel(dir, { backend, maxMemoryBytes: minimumBytes });
      assert.equal(streamed.plan.mode, 'streamed');
      assert.deepEqual(await runOnce(streamed, ids), expected, 'streamed at the minimum budget');
      // Resident, but with no room to keep any layer widened: every layer re-widened per run.
      const bare = await loadModel(dir, { backend, maxMemoryBytes: minimumBytes + storedBytes });
      assert.deepEqual([bare.plan.mode, bare.plan.cachedLayers], ['resident', 0]);
      assert.deepEqual(await runOnce(bare, ids), expected, 'resident without a widened cache');
      await initBackend('cpu');
    });
  }

  test('counterfactual routings that need every expert (dense) stream the same', async () => {
    const dir = path.join(fixtures, 'qwen2_moe');
    const ids = [7, 8, 9, 10, 11, 12];
    const routing = { kind: 'dense' } as const;
    const expected = await runOnce(await loadModel(dir, { backend: 'cpu' }), ids, { routing });
    const plan = (await loadModel(dir, { backend: 'cpu' })).plan;
    assert.deepEqual(await runOnce(await loadModel(dir, { backend: 'cpu', maxMemoryBytes: plan.minimumBytes }), ids, { routing }), expected);
  });
});

describe('the memory plan', () => {
  test('a budget below the minimum is refused up front, naming the minimum', async () => {
    const dir = path.join(fixtures, 'olmoe');
    const model = await loadModel(dir, { backend: 'cpu' });
    const { minimumBytes } = model.plan;
    model.dispose();
    const start = tf.memory().numTensors;
    const needed = Math.ceil(minimumBytes / MB);
    await assert.rejects(loadModel(dir, { backend: 'cpu', maxMemoryBytes: minimumBytes - 1 }), (e: Error) => {
      assert.match(e.message, new RegExp(`^this model needs at least ${needed} MB to run layer by layer \\(its largest layer widened to float32 with one expert at a time: \\d+ MB; `));
      assert.match(e.message, new RegExp(`more than the memory budget of ${needed} MB: raise it to at least ${needed} MB \\(--max-memory ${needed}, or the moeLens\\.memoryLimitMb setting\\)$`));
      return true;
    });
    assert.equal(tf.memory().numTensors, start);
  });

  test('the engine process takes its budget from MOE_LENS_MAX_MEMORY_MB (the extension sets it from moeLens.memoryLimitMb)', () => {
    assert.equal(budgetFromEnv({ MOE_LENS_MAX_MEMORY_MB: '3072' }), 3072 * MB);
    for (const unset of [undefined, '', '0', 'lots', '-5']) {
      assert.equal(budgetFromEnv({ MOE_LENS_MAX_MEMORY_MB: unset }), undefined, String(unset));
    }
  });

  test('the plan says what it holds: sizes, dtypes and parameter counts from the headers', async () => {
    const dir = makeBabyModel('mixtral', {}, 3, undefined, 'BF16');
    const model = await loadModel(dir, { backend: 'cpu' });
    const p = model.plan;
    model.dispose();
    // mixtral baby: V 64, D 32, H·hd 32, KV·hd 16, L 2, E 4, k 2, I 16
    const perLayerFixed = 2 * 32 + 32 * 32 * 2 + 16 * 32 * 2 + 4 * 32; // norms, q+o, k+v, router
    const perExpert = 3 * 32 * 16;
    const total = 64 * 32 * 2 + 32 + 2 * (perLayerFixed + 4 * perExpert); // embed + lm_head, final norm, layers
    assert.equal(p.totalParams, total);
    assert.equal(p.activeParams, total - 2 * 2 * perExpert); // 2 of 4 experts per layer
    assert.equal(p.storedBytes, 2 * total);
    assert.deepEqual(p.dtypes, ['BF16']);
    assert.equal(p.expertBytes, 4 * perExpert);
    assert.deepEqual([p.mode, p.cachedLayers, p.headCached], ['resident', 2, true], 'a budget of three quarters of memory keeps both layers and the LM head widened');
  });
});

describe('streaming holds one layer at a time', () => {
  test('a streamed model holds no layer weights between layers, and the count is flat across layers', async () => {
    const dir = path.join(fixtures, 'qwen3_moe');
    const { minimumBytes } = (await loadModel(dir, { backend: 'cpu' })).plan;
    const start = tf.memory().numTensors;
    const model = await loadModel(dir, { backend: 'cpu', maxMemoryBytes: minimumBytes });
    assert.equal(tf.memory().numTensors - start, 1, 'after the load: the final norm only');
    const counts: number[] = [];
    await model.run([1, 2, 3, 4, 5], { onProgress: (_f, message) => (message.startsWith('layer') ? counts.push(tf.memory().numTensors - start) : undefined) });
    assert.equal(counts.length, model.info.numLayers);
    // Between layers: the final norm, the residual stream and the rope tables, nothing of any layer.
    assert.deepEqual(counts, counts.map(() => 4));
    assert.equal(tf.memory().numTensors - start, 1);
    model.dispose();
    assert.equal(tf.memory().numTensors, start);
  });

  test('two runs at once on a streamed model each free their own layers', async () => {
    const dir = path.join(fixtures, 'olmoe');
    const { minimumBytes } = (await loadModel(dir, { backend: 'cpu' })).plan;
    const start = tf.memory().numTensors;
    const model = await loadModel(dir, { backend: 'cpu', maxMemoryBytes: minimumBytes });
    const [a, b] = [[1, 2, 3, 4], [9, 8, 7]];
    const alone = [await model.run(a), await model.run(b)];
    assert.deepEqual(await Promise.all([model.run(a), model.run(b)]), alone);
    model.dispose();
    assert.equal(tf.memory().numTensors, start);
  });

  test('a cancel at any read inside a layer rejects with AbortError and leaves nothing held', async () => {
    const dir = path.join(fixtures, 'qwen2_moe');
    const family = familyFor('qwen2_moe');
    const cfg = family.parseConfig(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
    const ids = [2, 4, 6, 8];
    /** Counts reads; aborts `ac` at read number `cut`. */
    class CuttingWeights extends StreamedWeights {
      reads = 0;
      cut = Infinity;
      ac = new AbortController();
      override read(name: string, range?: ElementRange): Promise<Float32Array> {
        if (++this.reads === this.cut) {
          this.ac.abort();
        }
        return super.read(name, range);
      }
    }
    const plan = { mode: 'streamed' as const, cachedLayers: 0, headCached: false, expertGroupBytes: 1 }; // one expert per group
    const counting = new CuttingWeights(await openCheckpoint(dir));
    const built = await buildDecoder(counting, family, cfg, plan);
    const afterLoad = counting.reads;
    (await forward(built.decoder, ids)).hidden.dispose();
    const perRun = counting.reads - afterLoad;
    disposeDecoder(built.decoder);
    await counting.close();
    assert.ok(perRun > 20, `a run reads every layer's tensors and each routed expert (${perRun} reads)`);
    for (let cut = 1; cut <= perRun; cut++) {
      const source = new CuttingWeights(await openCheckpoint(dir));
      const { decoder } = await buildDecoder(source, family, cfg, plan);
      const start = tf.memory().numTensors;
      source.reads = 0;
      source.cut = cut;
      await assert.rejects(forward(decoder, ids, { signal: source.ac.signal }), (e: Error) => e.name === 'AbortError', `cancel at read ${cut}`);
      assert.equal(tf.memory().numTensors, start, `cancel at read ${cut} of ${perRun} left tensors behind`);
      disposeDecoder(decoder);
      await source.close();
    }
  });
});
