// The BUILT engine (dist/engine.js, as the extension forks it) over the real protocol: load a real
// model, analyse, cancel, get killed mid-analysis, and recover on the next request.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { CancelledError, EngineClient, EngineCrashedError } from '../../src/extension/engineClient';
import type { AnalyzeParams, LoadModelParams } from '../../src/shared/engineProtocol';
import { testModel } from './testModel';

const enginePath = path.resolve(__dirname, '..', '..', 'dist', 'engine.js');
const model = testModel();
/** The folder on disk: the embedded model is loaded by path null. */
const modelDir = model?.path ?? path.resolve(__dirname, '..', '..', 'models', 'demo');
const skip = !existsSync(enginePath) ? 'dist/engine.js is not built (npm run build)' : !model ? 'no model: neither models/demo nor test/fixtures/mixtral' : false;
if (skip) {
  console.log(`# engine process test skipped: ${skip}`);
}

const params = (text: string): AnalyzeParams => ({ text, windowSize: 0, windowOverlap: 0, specialTokensInText: 'text' });

describe(`built engine process (${model?.description ?? 'no model'})`, { skip }, () => {
  const client = new EngineClient({ enginePath, memoryLimitMb: 2048, requestTimeoutMs: 120_000 });
  const spec: LoadModelParams = { path: model?.path ?? null, backend: 'auto' };
  after(async () => {
    await client.dispose();
    model?.cleanup();
  });

  it('loads the model and analyses a document with exact spans', async () => {
    const text = 'Mixture of experts:\r\nroute each token 😀 to k experts.';
    const { trace, model: loaded } = await client.analyze(spec, params(text));
    assert.equal(loaded.cached, false);
    assert.ok(trace.tokens.length > 5);
    assert.equal(trace.layers.length, trace.model.numLayers);
    assert.equal(trace.surprisal.length, trace.tokens.length);
    for (const tok of trace.tokens) {
      if (tok.start !== null && tok.end !== null) {
        assert.ok(tok.start >= 0 && tok.end <= text.length && tok.end > tok.start);
      }
    }
    const moe = trace.layers.find((l) => l.kind === 'moe')!;
    for (let t = 0; t < trace.tokens.length; t++) {
      assert.equal(moe.experts![t].length, trace.model.topK);
      assert.ok(moe.experts![t].every((e) => e >= 0 && e < trace.model.numExperts));
    }
    const status = await client.status();
    assert.equal(status.pid, client.pid);
    assert.ok(status.model);
  });

  it('cancels a running analysis and stays up', async () => {
    const pid = client.pid;
    const ac = new AbortController();
    // Small windows: the engine serves cancel requests between windows (see the report on per-layer yields).
    const p = client.analyze(spec, { ...params('token '.repeat(1500)), windowSize: 128, windowOverlap: 16 }, ac.signal);
    setTimeout(() => ac.abort(), 150);
    await assert.rejects(p, CancelledError);
    assert.equal(client.pid, pid);
  });

  it('killed mid-analysis: reports the kill, and the next analysis succeeds on a new process', async () => {
    const before = client.pid!;
    const p = client.analyze(spec, params('token '.repeat(1500)));
    setTimeout(() => process.kill(before, 'SIGKILL'), 150);
    await assert.rejects(p, (err: unknown) => err instanceof EngineCrashedError && /SIGKILL/.test(err.message));
    const { trace, model: loaded } = await client.analyze(spec, params('after the crash'));
    assert.notEqual(client.pid, before);
    assert.equal(loaded.cached, false, 'the restarted engine loaded the model again');
    assert.ok(trace.tokens.length > 0);
  });

  it('a FIFO as tokenizer.json is refused at once, and the engine stays up', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-fifo-model-'));
    try {
      for (const f of readdirSync(modelDir)) {
        if (f !== 'tokenizer.json' && statSync(path.join(modelDir, f)).isFile()) {
          copyFileSync(path.join(modelDir, f), path.join(dir, f));
        }
      }
      execFileSync('mkfifo', [path.join(dir, 'tokenizer.json')]);
      const pid = client.pid;
      await assert.rejects(client.analyze({ path: dir, backend: 'auto' }, params('x')), /tokenizer\.json is a FIFO \(named pipe\); only regular files are read/);
      assert.equal(client.pid, pid);
      assert.equal((await client.status()).pid, pid, 'the engine still answers');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
