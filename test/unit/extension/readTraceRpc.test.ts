// moeLens/readTrace (Open Trace File…): the engine process reads a saved trace under the size limit,
// validates it with the one validator and answers it packed; no model is needed. A bad file, a
// non-regular file or a trace that fails validation is one BadTrace error naming the problem.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ResponseError, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import type { EngineRuntime } from '../../../src/engine/rpc/runtime';
import { startEngineServer } from '../../../src/engine/rpc/server';
import { EngineErrorCodes, ReadTraceRequest, checkReadTraceParams } from '../../../src/shared/engineProtocol';
import { traceToJson } from '../../../src/shared/trace';
import { unpackTrace } from '../../../src/shared/tracePacking';
import { fakeTrace } from './helpers/fakeTrace';

function setup() {
  const runtime: EngineRuntime = {
    defaultModelDir: () => '/embedded',
    load: async () => {
      throw new Error('no model is loaded to read a trace');
    },
  };
  const a = new PassThrough();
  const b = new PassThrough();
  const server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
  const client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
  startEngineServer(server, runtime, { exit: () => undefined });
  server.listen();
  client.listen();
  return { client, close: () => (client.dispose(), server.dispose()) };
}

describe('moeLens/readTrace', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-readtrace-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('answers a saved trace packed; unpacked it equals the file (logits and scores as float32), imported nulls and non-finite numbers included', async () => {
    const s = setup();
    const trace = fakeTrace('alpha beta', { shared: true });
    trace.layers[0]!.weights = null;
    trace.layers[1]!.routerLogits![0]![0] = -Infinity;
    trace.tokens[1]!.id = null;
    const file = path.join(tmp, 'ok.json');
    writeFileSync(file, traceToJson(trace, 1));
    const got = await unpackTrace(await s.client.sendRequest(ReadTraceRequest.type, { path: file }));
    // Router logits and scores travel as float32, as they do from an analysis (tracePacking.ts).
    const f32 = (m: number[][] | null) => m && m.map((row) => row.map(Math.fround));
    assert.deepEqual(got, { ...trace, layers: trace.layers.map((l) => ({ ...l, routerLogits: f32(l.routerLogits), scores: f32(l.scores) })) });
    s.close();
  });

  it('refuses a missing file, a directory, a FIFO, bad JSON and an invalid trace in one BadTrace line each', async () => {
    const s = setup();
    writeFileSync(path.join(tmp, 'bad.json'), '{"schema":"moe-lens.trace/1",');
    const invalid = fakeTrace('a b');
    invalid.layers[0]!.experts![1] = [0, 99];
    writeFileSync(path.join(tmp, 'invalid.json'), traceToJson(invalid));
    execFileSync('mkfifo', [path.join(tmp, 'fifo.json')]);
    const cases: [string, RegExp][] = [
      [path.join(tmp, 'missing.json'), /missing\.json/],
      [tmp, /directory; only regular files are read/],
      [path.join(tmp, 'fifo.json'), /only regular files are read/],
      [path.join(tmp, 'bad.json'), /^trace: not valid JSON \(truncated or corrupt\)$/],
      [path.join(tmp, 'invalid.json'), /^trace: layer 0: experts\[1\]\[1\] must be an integer in 0\.\.7, got 99$/],
    ];
    for (const [file, re] of cases) {
      await assert.rejects(s.client.sendRequest(ReadTraceRequest.type, { path: file }), (e: ResponseError<void>) => {
        assert.equal(e.code, EngineErrorCodes.BadTrace, file);
        assert.match(e.message, re);
        assert.equal(e.message.split('\n').length, 1);
        return true;
      });
    }
    await assert.rejects(s.client.sendRequest(ReadTraceRequest.type, { path: '' }), (e: ResponseError<void>) => e.code === -32602);
    assert.throws(() => checkReadTraceParams({ path: 3 }), /path/);
    s.close();
  });
});
