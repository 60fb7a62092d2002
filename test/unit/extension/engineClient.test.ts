// The engine client against a real forked process (the fake-runtime engine in fixtures/): model
// caching, progress, cancellation, crash/OOM/timeout recovery and the restart budget.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSync } from 'esbuild';
import { CancelledError, EngineClient, EngineCrashedError, EngineGaveUpError, EngineRequestError, ENGINE_NICENESS, withEngineThreads, type EngineExit } from '../../../src/extension/engineClient';
import { RestartLimiter } from '../../../src/extension/pure/restartLimiter';
import { EngineErrorCodes, type AnalyzeParams, type LoadModelParams } from '../../../src/shared/engineProtocol';

// Bundled once: forking through tsx costs seconds per process on a busy machine.
const enginePath = path.join(os.tmpdir(), `moe-lens-fake-engine-${process.pid}.js`);
before(() => {
  buildSync({
    entryPoints: [path.join(__dirname, 'fixtures', 'fakeEngine.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: enginePath,
    logLevel: 'error',
  });
});
const embedded: LoadModelParams = { path: null, backend: 'auto' };
const params = (text: string): AnalyzeParams => ({ text, windowSize: 0, windowOverlap: 0, specialTokensInText: 'text' });
const clients: EngineClient[] = [];

function client(env: Record<string, string> = {}, extra: Partial<ConstructorParameters<typeof EngineClient>[0]> = {}): EngineClient {
  const c = new EngineClient({
    enginePath,
    memoryLimitMb: 0,
    requestTimeoutMs: 0,
    env: { ...process.env, ...env },
    ...extra,
  });
  clients.push(c);
  return c;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

after(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  fs.rmSync(enginePath, { force: true });
});

describe('EngineClient with a forked engine', () => {
  it("hands a long document's first window to onDidPartialTrace, checked, for the request that carried its progressId", async () => {
    const c = client();
    const partials: { progressId: string; tokens: number }[] = [];
    const got = new Promise<void>((resolve) =>
      c.onDidPartialTrace((p) => {
        partials.push({ progressId: p.progressId, tokens: p.trace.tokens.length });
        resolve();
      }),
    );
    const text = 'LONG one two three four five six';
    const full = await c.analyze(embedded, { ...params(text), progressId: 'w1' });
    await got;
    assert.deepEqual(partials, [{ progressId: 'w1', tokens: (await c.analyze(embedded, params(text.slice(0, text.length >> 1)))).trace.tokens.length }]);
    assert.ok(partials[0].tokens < full.trace.tokens.length);
    await c.analyze(embedded, params(text)); // no progressId: nothing handed over
    await c.analyze(embedded, { ...params('short'), progressId: 'w2' });
    assert.equal(partials.length, 1);
  });

  it('loads once, analyses twice on the same process, reports progress', async () => {
    const c = client();
    const progress: number[] = [];
    c.onDidProgress((p) => progress.push(p.fraction));
    const a = await c.analyze(embedded, { ...params('hello world'), progressId: 'p1' });
    assert.equal(a.trace.tokens.length, 4); // <s>, hello, ' ', world
    assert.equal(a.trace.tokens[3].text, 'world');
    assert.equal(a.model.info.path, 'embedded');
    assert.equal(a.model.cached, false);
    const pid = c.pid;
    assert.equal(os.getPriority(pid), Math.min(19, os.getPriority() + ENGINE_NICENESS), 'the engine yields the CPU to the host');
    const b = await c.analyze(embedded, params('again'));
    assert.equal(c.pid, pid);
    assert.equal(b.model, a.model, 'the client reuses the loaded model without a loadModel round trip');
    assert.deepEqual(progress, [0, 0.25, 0.5, 0.75]);
    const status = await c.status();
    assert.equal(status.pid, pid);
    assert.equal(status.model, 'embedded');
    await c.stop();
    assert.equal(c.state, 'stopped');
    assert.equal(isAlive(pid!), false);
  });

  it('switching models loads the new one', async () => {
    const c = client();
    await c.analyze(embedded, params('x'));
    const r = await c.analyze({ path: '/models/other', backend: 'cpu' }, params('x'));
    assert.equal(r.model.info.path, '/models/other');
    assert.equal(r.model.backend, 'cpu');
    assert.equal((await c.status()).model, '/models/other');
  });

  it('a cancelled analysis rejects with CancelledError and the engine stays up', async () => {
    const c = client({ FAKE_ENGINE_DELAY_MS: '200' });
    await c.loadModel(embedded);
    const pid = c.pid;
    const ac = new AbortController();
    const p = c.analyze(embedded, params('slow text'), ac.signal);
    setTimeout(() => ac.abort(), 250);
    await assert.rejects(p, CancelledError);
    assert.equal(c.pid, pid);
    const ok = await c.analyze(embedded, params('next'));
    assert.equal(ok.trace.tokens.length, 2);
  });

  it('counterfactual: a sweep reports progress per pass and returns its rows; a single pass its per-token arrays', async () => {
    const c = client();
    const progress: string[] = [];
    c.onDidProgress((p) => progress.push(`${p.progressId} ${p.fraction} ${p.message}`));
    const sweep = await c.counterfactual(embedded, { text: 'one two three', mode: 'sweep-k', specialTokensInText: 'text', progressId: 'cf1' });
    assert.ok('passes' in sweep.counterfactual);
    assert.equal(sweep.counterfactual.passes.length, 8);
    assert.deepEqual(progress.slice(0, 2), ['cf1 0 pass 1/8 (topk:1)', 'cf1 0.125 pass 2/8 (topk:2)']);
    assert.equal(progress.length, 8);
    const pass = await c.counterfactual(embedded, { text: 'one two', mode: 'expert-choice:1', specialTokensInText: 'text' });
    assert.ok('kl' in pass.counterfactual);
    assert.equal(pass.counterfactual.kl.length, pass.tokens.length);
    assert.equal(pass.counterfactual.causal, false);
  });

  it('counterfactual: cancelling a sweep stops it between passes, nothing comes back, and the engine stays up', async () => {
    const c = client({ FAKE_ENGINE_DELAY_MS: '150' });
    await c.loadModel(embedded);
    const pid = c.pid;
    const passes: number[] = [];
    c.onDidProgress((p) => p.progressId === 'cf2' && passes.push(p.fraction));
    const ac = new AbortController();
    const run = c.counterfactual(embedded, { text: 'a b c', mode: 'sweep-k', specialTokensInText: 'text', progressId: 'cf2' }, ac.signal);
    // Abort once the second pass has started.
    await new Promise<void>((resolve) => {
      const sub = c.onDidProgress((p) => {
        if (p.progressId === 'cf2' && p.fraction > 0) {
          sub.dispose();
          ac.abort();
          resolve();
        }
      });
    });
    await assert.rejects(run, CancelledError);
    assert.ok(passes.length < 8, `stopped after ${passes.length} of 8 passes`);
    assert.equal(c.pid, pid);
    const next = await c.counterfactual(embedded, { text: 'x', mode: 'dense', specialTokensInText: 'text' });
    assert.ok('kl' in next.counterfactual);
  });

  it('counterfactual: a mode the engine refuses is an InvalidParams error with its words', async () => {
    const c = client();
    await assert.rejects(c.counterfactual(embedded, { text: 'x', mode: 'bad:1', specialTokensInText: 'text' }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, -32602);
      assert.match(err.message, /bad mode 'bad:1'/);
      return true;
    });
  });

  it('killing the engine mid-analysis: the request fails with the reason, the next one restarts it', async () => {
    const c = client({ FAKE_ENGINE_DELAY_MS: '300' });
    const exits: EngineExit[] = [];
    c.onDidExit((e) => exits.push(e));
    await c.loadModel(embedded);
    const pid = c.pid!;
    const p = c.analyze(embedded, params('long document'));
    setTimeout(() => c.kill(), 200);
    await assert.rejects(p, (err: unknown) => err instanceof EngineCrashedError && /SIGKILL/.test(err.message));
    assert.equal(exits.length, 1);
    assert.equal(exits[0].expected, false);
    assert.equal(exits[0].gaveUp, false);
    const r = await c.analyze(embedded, params('after the crash'));
    assert.notEqual(c.pid, pid);
    assert.equal(r.trace.tokens.length, 6);
    assert.equal(r.model.cached, false, 'the new process loaded the model again');
  });

  it('a crash names the engine’s last error line', async () => {
    const c = client({ FAKE_ENGINE_CRASH: 'BOOM' });
    await assert.rejects(c.analyze(embedded, params('BOOM')), (err: unknown) => {
      assert.ok(err instanceof EngineCrashedError);
      assert.match(err.exit.reason, /exited with code 3: Error: simulated engine failure/);
      return true;
    });
    assert.equal((await c.analyze(embedded, params('fine'))).trace.tokens.length, 2);
  });

  it('an out-of-memory is reported as such, with the limit', async () => {
    const c = client({ FAKE_ENGINE_OOM: 'HOG' }, { memoryLimitMb: 48, memoryPollMs: 600_000 }); // the heap limit, not the RSS watch
    await assert.rejects(c.analyze(embedded, params('HOG')), (err: unknown) => {
      assert.ok(err instanceof EngineCrashedError);
      assert.equal(err.exit.reason, 'out of memory (memory limit 48 MB, setting moeLens.memoryLimitMb)');
      return true;
    });
  });

  it('an engine whose resident memory passes the limit is killed with that reason (Linux)', { skip: process.platform !== 'linux' }, async () => {
    const c = client({ FAKE_ENGINE_RSS: 'HOLD' }, { memoryLimitMb: 160, memoryPollMs: 100 });
    await assert.rejects(c.analyze(embedded, params('HOLD')), (err: unknown) => {
      assert.ok(err instanceof EngineCrashedError);
      // The budget is what loads plan within; the watchdog kills only past it plus headroom (512 MB at least).
      assert.match(err.exit.reason, /^out of memory: the engine reached \d+ MB, over the 672 MB it may reach with a memory budget of 160 MB \(setting moeLens\.memoryLimitMb\)$/);
      return true;
    });
    assert.equal((await c.analyze(embedded, params('fine after'))).trace.tokens.length, 4);
  });

  it('moeLens.memoryLimitMb reaches the engine as its planning budget (MOE_LENS_MAX_MEMORY_MB), and describeModels answers mid-analysis', async () => {
    const c = client({ MOE_LENS_MAX_MEMORY_MB: '99999', FAKE_ENGINE_DELAY_MS: '300' }, { memoryLimitMb: 3072 });
    const running = c.analyze(embedded, params('a b c d e f'));
    const described = await c.describeModels({ paths: ['/some/model', null, '/x/missing'], backend: 'auto' });
    assert.equal(c.pending, 1, 'answered while the analysis still runs');
    assert.deepEqual(
      described.models.map((m) => [m.path, m.info?.plan.budgetBytes ?? null, m.error]),
      [['/some/model', 3072 * 2 ** 20, null], [null, 3072 * 2 ** 20, null], ['/x/missing', null, 'no config.json in /x/missing']],
    );
    await running;
    // No budget set: the engine's own default, not a value inherited from the editor's environment.
    const none = client({ MOE_LENS_MAX_MEMORY_MB: '99999' }, { memoryLimitMb: 0 });
    assert.equal((await none.describeModels({ paths: [null], backend: 'auto' })).models[0].info?.plan.budgetBytes, 0);
  });

  it('a hung request is killed after the timeout', async () => {
    const c = client({ FAKE_ENGINE_DELAY_MS: '2000' }, { requestTimeoutMs: 500 });
    await assert.rejects(c.analyze(embedded, params('x')), (err: unknown) => err instanceof EngineCrashedError && /0 s timeout|timeout/.test(err.message));
    c.updateOptions({ requestTimeoutMs: 0 });
    // (a fresh process, same slow engine: only check it is back)
    assert.equal((await c.status()).model, null);
  });

  it('engine errors arrive as EngineRequestError with the engine’s code', async () => {
    const c = client();
    await assert.rejects(c.loadModel({ path: '/x/missing', backend: 'auto' }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.LoadFailed);
      assert.match(err.message, /no config.json/);
      return true;
    });
    await assert.rejects(c.loadModel({ path: '/ws/models/m', backend: 'auto', forbiddenRoots: ['/ws'] }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.Forbidden);
      return true;
    });
    await assert.rejects(c.analyze({ path: '/x/missing', backend: 'auto' }, params('x')), EngineRequestError);
  });

  it('a failed switch to another model leaves none loaded, and the next analysis loads its model again', async () => {
    const c = client();
    await c.analyze(embedded, params('first'));
    await assert.rejects(c.loadModel({ path: '/x/missing', backend: 'auto' }), EngineRequestError);
    // The engine unloaded the old model before the new one failed: the client must not reuse it.
    const again = await c.analyze(embedded, params('second'));
    assert.equal(again.model.info.path, 'embedded');
    assert.equal(again.trace.tokens.at(-1)?.text, 'second');
  });

  it('gives up after 4 restarts within the window, until restart()', async () => {
    let now = 0;
    const c = client({ FAKE_ENGINE_CRASH: 'BOOM' }, { limiter: new RestartLimiter(4, 180_000), now: () => now });
    const exits: EngineExit[] = [];
    c.onDidExit((e) => exits.push(e));
    for (let i = 0; i < 5; i++) {
      now += 10_000;
      await assert.rejects(c.analyze(embedded, params('BOOM')), EngineCrashedError);
    }
    assert.deepEqual(exits.map((e) => e.gaveUp), [false, false, false, false, true]);
    assert.equal(c.state, 'gaveUp');
    await assert.rejects(c.analyze(embedded, params('fine')), EngineGaveUpError);
    await c.restart();
    assert.equal(c.state, 'running');
    assert.equal((await c.analyze(embedded, params('fine'))).trace.tokens.length, 2);
  });
});

describe('withEngineThreads', () => {
  it('passes moeLens.engineThreads to the engine as MOE_LENS_THREADS; 0 leaves the engine its default', () => {
    const base = { PATH: '/bin', ELECTRON_RUN_AS_NODE: '1' };
    assert.deepEqual(withEngineThreads(base, 2), { PATH: '/bin', ELECTRON_RUN_AS_NODE: '1', MOE_LENS_THREADS: '2' });
    assert.deepEqual(withEngineThreads(base, 0), base);
  });
});
