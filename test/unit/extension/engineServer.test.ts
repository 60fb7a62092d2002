// The engine's JSON-RPC server (src/engine/rpc/server.ts) over an in-memory connection with a
// fake runtime: parameter validation, model caching and switching, untrusted-root refusal (through
// symlinks too), one request at a time, cancellation and progress.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { CancellationTokenSource, ResponseError, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import type { EngineRuntime } from '../../../src/engine/rpc/runtime';
import { startEngineServer } from '../../../src/engine/rpc/server';
import { AnalyzeRequest, EngineErrorCodes, LoadModelRequest, ProgressNotification, StatusRequest, type ProgressParams } from '../../../src/shared/engineProtocol';
import { unpackTrace } from '../../../src/shared/tracePacking';
import { fakeTrace } from './helpers/fakeTrace';

function setup(delayMs = 0) {
  const events: string[] = [];
  const runtime: EngineRuntime = {
    defaultModelDir: () => '/embedded',
    load: async (dir, backend) => {
      events.push(`load ${dir}`);
      return {
        info: { ...fakeTrace('').model, path: dir },
        backend,
        maxContext: 128,
        analyze: async (text, o) => {
          events.push(`start ${text}`);
          for (let l = 0; l < 4; l++) {
            o.onProgress?.(l / 4, `layer ${l}`);
            await new Promise((r) => setTimeout(r, delayMs));
            o.signal?.throwIfAborted();
          }
          events.push(`end ${text}`);
          return fakeTrace(text);
        },
        dispose: () => events.push(`dispose ${dir}`),
      };
    },
  };
  const a = new PassThrough();
  const b = new PassThrough();
  const server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
  const client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
  startEngineServer(server, runtime, { exit: () => events.push('exit') });
  server.listen();
  client.listen();
  const progress: ProgressParams[] = [];
  client.onNotification(ProgressNotification.type, (p) => void progress.push(p));
  return { client, server, events, progress, close: () => (client.dispose(), server.dispose()) };
}

const analyze = (text: string, progressId?: string) => ({ text, windowSize: 0, windowOverlap: 0, specialTokensInText: 'text' as const, progressId });

describe('engine JSON-RPC server', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-srv-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('rejects bad params with InvalidParams and analyze before load with NoModel', async () => {
    const s = setup();
    await assert.rejects(s.client.sendRequest(LoadModelRequest.type, { path: 3, backend: 'auto' } as never), (e: ResponseError<void>) => e.code === -32602 && /path/.test(e.message));
    await assert.rejects(s.client.sendRequest(AnalyzeRequest.type, analyze('x')), (e: ResponseError<void>) => e.code === EngineErrorCodes.NoModel);
    s.close();
  });

  it('keeps the loaded model, and unloads it before loading another', async () => {
    const s = setup();
    const m1 = path.join(tmp, 'm1');
    const m2 = path.join(tmp, 'm2');
    mkdirSync(m1);
    mkdirSync(m2);
    const first = await s.client.sendRequest(LoadModelRequest.type, { path: m1, backend: 'cpu' });
    assert.equal(first.cached, false);
    assert.equal((await s.client.sendRequest(LoadModelRequest.type, { path: m1, backend: 'cpu' })).cached, true);
    await s.client.sendRequest(LoadModelRequest.type, { path: m2, backend: 'cpu' });
    assert.deepEqual(s.events, [`load ${m1}`, `dispose ${m1}`, `load ${m2}`]);
    assert.equal((await s.client.sendRequest(StatusRequest.type)).model, m2);
    const defaultDir = await s.client.sendRequest(LoadModelRequest.type, { path: null, backend: 'cpu' });
    assert.equal(defaultDir.info.path, path.resolve('/embedded'));
    s.close();
  });

  it('refuses a model inside a forbidden root, also through a symlink or in a folder named ..evil', async () => {
    const s = setup();
    const ws = path.join(tmp, 'ws');
    mkdirSync(path.join(ws, 'model'), { recursive: true });
    mkdirSync(path.join(ws, '..evil', 'model'), { recursive: true });
    symlinkSync(path.join(ws, 'model'), path.join(tmp, 'link'));
    for (const p of [path.join(ws, 'model'), path.join(tmp, 'link'), path.join(ws, '..evil', 'model')]) {
      await assert.rejects(
        s.client.sendRequest(LoadModelRequest.type, { path: p, backend: 'auto', forbiddenRoots: [ws] }),
        (e: ResponseError<void>) => e.code === EngineErrorCodes.Forbidden && /untrusted/.test(e.message),
      );
    }
    assert.deepEqual(s.events, []);
    s.close();
  });

  it('runs requests one at a time, reports progress, and cancels', async () => {
    const s = setup(30);
    await s.client.sendRequest(LoadModelRequest.type, { path: tmp, backend: 'auto' });
    const cts = new CancellationTokenSource();
    const a = s.client.sendRequest(AnalyzeRequest.type, analyze('one', 'p1'));
    const b = s.client.sendRequest(AnalyzeRequest.type, analyze('two', 'p2'), cts.token);
    const c = s.client.sendRequest(AnalyzeRequest.type, analyze('three'));
    setTimeout(() => cts.cancel(), 200); // while "two" runs
    const trace = await unpackTrace(await a);
    assert.equal(trace.tokens.length, 2);
    await assert.rejects(b, (e: ResponseError<void>) => e.code === EngineErrorCodes.Cancelled);
    await c;
    assert.deepEqual(
      s.events.filter((e) => !e.startsWith('load')),
      ['start one', 'end one', 'start two', 'start three', 'end three'],
    );
    assert.deepEqual(
      s.progress.filter((p) => p.progressId === 'p1').map((p) => p.fraction),
      [0, 0.25, 0.5, 0.75],
    );
    s.close();
  });
});
