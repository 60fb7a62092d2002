/**
 * The engine request the panels will call: `moeLens/counterfactual` on the real runtime (baby
 * Mixtral + the demo tokenizer) over an in-memory JSON-RPC connection: the tokens and the document,
 * progress notifications, cancel, and a bad mode answered as InvalidParams.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { CancellationTokenSource, ResponseError, StreamMessageReader, StreamMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import { createRealRuntime } from '../../../src/engine/rpc/realRuntime';
import { startEngineServer } from '../../../src/engine/rpc/server';
import type { CounterfactualPassDoc, CounterfactualSweepDoc } from '../../../src/shared/counterfactual';
import {
  CounterfactualRequest,
  EngineErrorCodes,
  LoadModelRequest,
  ProgressNotification,
  checkCounterfactualResult,
  type CounterfactualParams,
  type ProgressParams,
} from '../../../src/shared/engineProtocol';
import { makeBabyModel } from './babyModel';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TEXT = 'Which expert takes this token, and why?';
let dir: string;
let client: MessageConnection;
let server: MessageConnection;
const progress: ProgressParams[] = [];

before(async () => {
  dir = makeBabyModel('mixtral', { vocab_size: 4096 });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(ROOT, 'models', 'demo', f), path.join(dir, f));
  }
  const a = new PassThrough();
  const b = new PassThrough();
  server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
  client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
  startEngineServer(server, createRealRuntime(() => undefined), { exit: () => undefined });
  server.listen();
  client.listen();
  client.onNotification(ProgressNotification.type, (p) => void progress.push(p));
  await client.sendRequest(LoadModelRequest.type, { path: dir, backend: 'wasm' });
});
after(() => {
  client.dispose();
  server.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const params = (mode: string, progressId?: string) => ({ text: TEXT, mode, specialTokensInText: 'text' as const, progressId });

test('a pass: tokens with spans, KL per token, progress up to 1', async () => {
  const r = checkCounterfactualResult(await client.sendRequest(CounterfactualRequest.type, params('expert-choice:1', 'cf1')));
  const doc = r.counterfactual as CounterfactualPassDoc;
  assert.equal(doc.kl.length, r.tokens.length);
  assert.equal(doc.causal, false);
  assert.equal(r.tokens.map((t) => TEXT.slice(t.start!, t.end!)).join(''), TEXT);
  const mine = progress.filter((p) => p.progressId === 'cf1');
  assert.ok(mine.length > 2);
  assert.equal(mine.at(-1)!.fraction, 1);
});

test('a sweep answers one row per pass', async () => {
  const r = await client.sendRequest(CounterfactualRequest.type, params('sweep-k'));
  assert.equal((r.counterfactual as CounterfactualSweepDoc).passes.length, 4);
});

test('a bad mode is InvalidParams; a cancelled request is Cancelled', async () => {
  await assert.rejects(client.sendRequest(CounterfactualRequest.type, params('topk:9')), (e: ResponseError<void>) => e.code === -32602 && /k must be in 1\.\.4/.test(e.message));
  await assert.rejects(client.sendRequest(CounterfactualRequest.type, { text: TEXT } as unknown as CounterfactualParams), (e: ResponseError<void>) => e.code === -32602);
  const cts = new CancellationTokenSource();
  const run = client.sendRequest(CounterfactualRequest.type, params('ablate-each:1', 'cancel-me'), cts.token);
  client.onNotification(ProgressNotification.type, (p) => (p.progressId === 'cancel-me' ? cts.cancel() : undefined));
  await assert.rejects(run, (e: ResponseError<void>) => e.code === EngineErrorCodes.Cancelled);
});
