/** resolveWindows owns window size and overlap: the engine runtime (the host's path), the CLI's path and package.json agree. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { traceText } from '../../../src/engine/analyze';
import { loadModel } from '../../../src/engine/model';
import { createRealRuntime } from '../../../src/engine/rpc/realRuntime';
import type { RuntimeModel } from '../../../src/engine/rpc/runtime';
import { loadTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { DEFAULT_MAX_WINDOW, DEFAULT_WINDOW_SETTINGS, resolveWindows } from '../../../src/shared/windowSettings';
import { makeBabyModel } from './babyModel';

const ROOT = path.resolve(__dirname, '..', '..', '..');
// Far more tokens than the baby model's 16-token context.
const TEXT = 'Routing notes: which expert takes this token, and why? '.repeat(6);

let dir: string;
let runtime: RuntimeModel;

before(async () => {
  dir = makeBabyModel('mixtral', { vocab_size: 4096, max_position_embeddings: 16 });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(ROOT, 'models', 'demo', f), path.join(dir, f));
  }
  runtime = await createRealRuntime(() => undefined).load(dir, 'wasm', {});
});
after(() => {
  runtime.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const laterOverlaps = (windows: { overlap: number }[] | undefined): number[] => (windows ?? []).slice(1).map((w) => w.overlap);

test('with maxTokensPerWindow 0 (the default) the engine honours windowOverlap', async () => {
  const trace = await runtime.analyze(TEXT, { windowSize: 0, windowOverlap: 5, specialTokensInText: 'text' });
  assert.ok(trace.windows && trace.windows.length > 2, `expected several windows, got ${JSON.stringify(trace.windows)}`);
  assert.ok(trace.windows.every((w) => w.end - w.start <= 16));
  assert.deepEqual(new Set(laterOverlaps(trace.windows)), new Set([5]));
});

test('the CLI path (traceText without settings) and the host with default settings cut the same windows', async () => {
  const model = await loadModel(dir, { backend: 'wasm' });
  const tok = await loadTokenizer(dir);
  try {
    const cli = await traceText(model, tok, TEXT);
    const host = await runtime.analyze(TEXT, {
      windowSize: DEFAULT_WINDOW_SETTINGS.maxTokensPerWindow,
      windowOverlap: DEFAULT_WINDOW_SETTINGS.windowOverlap,
      specialTokensInText: 'text',
    });
    assert.deepEqual(cli.windows, host.windows);
    // Overlap 32 does not fit a 16-token window: at most half of it.
    assert.deepEqual(new Set(laterOverlaps(cli.windows)), new Set([8]));
  } finally {
    tok.dispose();
    model.dispose();
  }
});

test('resolveWindows: size from the setting or the context (capped), overlap at most half a window', () => {
  assert.deepEqual(resolveWindows({}, { maxContext: 32_768 }), { size: DEFAULT_MAX_WINDOW, overlap: 32 });
  assert.deepEqual(resolveWindows({ maxTokensPerWindow: 0, windowOverlap: 100 }, { maxContext: 1024 }), { size: 1024, overlap: 100 });
  assert.deepEqual(resolveWindows({ maxTokensPerWindow: 512, windowOverlap: 64 }, { maxContext: 1024 }), { size: 512, overlap: 64 });
  assert.deepEqual(resolveWindows({ maxTokensPerWindow: 9999, windowOverlap: 0 }, { maxContext: 1024 }), { size: 1024, overlap: 0 });
  // A hostile overlap (window - 1) cannot make every window advance one token.
  assert.deepEqual(resolveWindows({ maxTokensPerWindow: 512, windowOverlap: 511 }, { maxContext: 4096 }), { size: 512, overlap: 256 });
  assert.deepEqual(resolveWindows({ maxTokensPerWindow: -3, windowOverlap: Number.NaN }, { maxContext: 64 }), { size: 64, overlap: 32 });
  assert.deepEqual(resolveWindows({ maxTokensPerWindow: 1 }, { maxContext: 64 }), { size: 1, overlap: 0 });
});

test("package.json declares resolveWindows' defaults", () => {
  const props = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default: unknown }> } };
  }).contributes.configuration.properties;
  assert.equal(props['moeLens.maxTokensPerWindow']!.default, DEFAULT_WINDOW_SETTINGS.maxTokensPerWindow);
  assert.equal(props['moeLens.windowOverlap']!.default, DEFAULT_WINDOW_SETTINGS.windowOverlap);
});

test("a document of several windows hands over its first window's trace before the rest runs, equal to the full trace's first rows", async () => {
  const partials: Awaited<ReturnType<RuntimeModel['analyze']>>[] = [];
  const full = await runtime.analyze(TEXT, { windowSize: 0, windowOverlap: 4, specialTokensInText: 'text', onFirstWindow: (t) => void partials.push(structuredClone(t)) });
  assert.equal(partials.length, 1, 'once per analysis');
  const [p] = partials;
  const n = full.windows![0].end;
  assert.deepEqual(p.windows, [full.windows![0]]);
  assert.deepEqual(p.tokens, full.tokens.slice(0, n));
  assert.deepEqual(p.model, full.model);
  p.layers.forEach((l, i) => {
    for (const key of ['routerLogits', 'scores', 'experts', 'weights', 'sharedWeight'] as const) {
      assert.deepEqual(l[key], full.layers[i][key]?.slice(0, n) ?? null, `layer ${l.layer} ${key}`);
    }
  });
  // The last token's next token lies in the next window: not known yet.
  assert.deepEqual(p.surprisal, [...full.surprisal.slice(0, n - 1), null]);
  const single: unknown[] = [];
  await runtime.analyze('One short window.', { windowSize: 0, windowOverlap: 4, specialTokensInText: 'text', onFirstWindow: (t) => void single.push(t) });
  assert.equal(single.length, 0, 'a one-window document has nothing to hand over early');
});
