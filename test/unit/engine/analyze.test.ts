/** traceIds / traceText: windows stitched back into one trace, spans kept, surprisal filled across window edges. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { traceIds, traceText } from '../../../src/engine/analyze';
import { loadModel, type Model } from '../../../src/engine/model';
import { loadTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { makeBabyModel } from './babyModel';

let dir: string;
let model: Model;
const ids = Array.from({ length: 20 }, (_, i) => (i * 7 + 3) % 64);

before(async () => {
  dir = makeBabyModel('mixtral', { max_position_embeddings: 8 });
  model = await loadModel(dir, { backend: 'wasm' });
});
after(() => {
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a sequence longer than the context is run in overlapping windows and stitched', async () => {
  const trace = await traceIds(model, ids, { windowOverlap: 3, withLogits: true });
  assert.deepEqual(trace.windows, [
    { start: 0, end: 8, overlap: 0 },
    { start: 5, end: 13, overlap: 3 },
    { start: 10, end: 18, overlap: 3 },
    { start: 15, end: 20, overlap: 3 },
  ]);
  assert.equal(trace.tokens.length, 20);
  assert.equal(trace.logits!.length, 20);
  for (const l of trace.layers) {
    assert.equal(l.experts!.length, 20);
    assert.equal(l.routerLogits!.length, 20);
  }
  // every token but the last has a surprisal, also at window edges (taken from the next window's context)
  assert.ok(trace.surprisal.slice(0, -1).every((s) => typeof s === 'number'));
  assert.equal(trace.surprisal[19], null);
  // the second window's own tokens are routed as a run over that window alone routes them
  const second = await model.run(ids.slice(5, 13));
  assert.deepEqual(trace.layers[1].experts!.slice(8, 13), second.layers[1].experts!.slice(3, 8));
  assert.equal(trace.surprisal[7], second.surprisal[2]);
  // the first window is a plain run
  const first = await model.run(ids.slice(0, 8));
  assert.deepEqual(trace.layers[0].weights!.slice(0, 8), first.layers[0].weights);
});

test('a short sequence is one window and carries no windows field', async () => {
  const trace = await traceIds(model, ids.slice(0, 6));
  assert.equal(trace.windows, undefined);
  assert.equal(trace.backend, 'wasm');
  assert.equal(trace.model.path, path.resolve(dir));
  assert.ok(trace.timing && trace.timing.totalMs >= 0);
});

test('traceText keeps the tokenizer spans', async () => {
  const tokDir = makeBabyModel('mixtral', { vocab_size: 4096 });
  const root = path.resolve(__dirname, '..', '..', '..');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(root, 'models', 'demo', f), path.join(tokDir, f));
  }
  const m = await loadModel(tokDir, { backend: 'wasm' });
  const tok = await loadTokenizer(tokDir);
  try {
    const text = 'Routing: which expert? 🙂 naïve';
    const trace = await traceText(m, tok, text);
    const expected = await tok.encode(text);
    assert.deepEqual(trace.tokens, expected);
    assert.equal(trace.layers[0].experts!.length, expected.length);
    assert.ok(trace.timing!.tokenizeMs >= 0);
  } finally {
    tok.dispose();
    m.dispose();
    fs.rmSync(tokDir, { recursive: true, force: true });
  }
});
