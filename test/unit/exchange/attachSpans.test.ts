/**
 * `import --text/--file DOC --tokenizer DIR`: an imported trace gets the document's ids, token texts
 * and exact UTF-16 spans from the engine's tokenizer (the demo model's), and a document whose tokens
 * do not match the imported routing is refused in one line saying how (count or first differing id).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { attachSpans } from '../../../src/exchange/attachSpans';
import { ImportError } from '../../../src/exchange/importedTrace';
import type { RoutingTrace } from '../../../src/shared/trace';
import { readTraceJson } from '../../../src/shared/traceCodec';
import { builtCli, REPO_ROOT } from '../../helpers/builtCli';

const DEMO = path.join(REPO_ROOT, 'models', 'demo');
// Markup, a split emoji (partial tokens), CRLF and a non-BMP character: spans must be UTF-16 exact.
const DOC = `def naïve(x):\r\n    return "👩‍💻" + x  # 𝔘\n`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-attach-'));
let cli = '';
let original: RoutingTrace;

function run(...args: string[]): string {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

function fails(...args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, `expected failure: ${args.join(' ')}`);
  assert.equal(r.stdout, '');
  return r.stderr.trim();
}

before(() => {
  cli = builtCli();
  writeFileSync(path.join(dir, 'doc.py'), DOC);
  writeFileSync(path.join(dir, 'trace.json'), run('trace', '--model', DEMO, '--file', path.join(dir, 'doc.py'), '--backend', 'cpu'));
  original = readTraceJson(readFileSync(path.join(dir, 'trace.json'), 'utf8'));
  run('export', path.join(dir, 'trace.json'), '--format', 'npy', '-o', path.join(dir, 'routed.npy'));
  run('export', path.join(dir, 'trace.json'), '--format', 'csv', '-o', path.join(dir, 'routed.csv'));
  // safetensors carries the token ids (token_ids) but, for this test, the spans are dropped first.
  const noSpans = { ...original, tokens: original.tokens.map((t) => ({ id: t.id, text: null, start: null, end: null })) };
  writeFileSync(path.join(dir, 'nospans.json'), JSON.stringify(noSpans));
  run('export', path.join(dir, 'nospans.json'), '--format', 'safetensors', '-o', path.join(dir, 'routed.safetensors'));
});

describe('import --file DOC --tokenizer DIR', () => {
  test('npy (no ids, no spans): the document gives every token its id, text and exact span, as the engine trace has them', () => {
    const out = path.join(dir, 'npy.json');
    const layers = original.model.moeLayers.join(',');
    run('import', path.join(dir, 'routed.npy'), '--format', 'npy', '-o', out, '--layers', layers, '--experts', String(original.model.numExperts), '--file', path.join(dir, 'doc.py'), '--tokenizer', DEMO);
    const imported = readTraceJson(readFileSync(out, 'utf8'));
    assert.deepEqual(imported.tokens, original.tokens);
    assert.ok(original.tokens.some((t) => t.partial), 'the document has split-character tokens');
    for (const t of imported.tokens.filter((x) => x.start !== null)) {
      assert.equal(DOC.slice(t.start!, t.end!).length, t.end! - t.start!);
    }
    assert.deepEqual(imported.layers.map((l) => l.experts), original.layers.filter((l) => l.kind === 'moe').map((l) => l.experts));
  });

  test('--text works the same as --file', () => {
    const out = path.join(dir, 'csv-text.json');
    run('import', path.join(dir, 'routed.csv'), '--format', 'csv', '-o', out, '--text', DOC, '--tokenizer', DEMO);
    assert.deepEqual(readTraceJson(readFileSync(out, 'utf8')).tokens, original.tokens);
  });

  test('a document with another token count: one line with both counts, nothing written', () => {
    const out = path.join(dir, 'never.json');
    const err = fails('import', path.join(dir, 'routed.npy'), '--format', 'npy', '-o', out, '--text', DOC + ' more words here', '--tokenizer', DEMO);
    assert.match(err, /^moe-lens: import: the document has a different number of tokens than the imported routing: \d+ vs \d+ /);
    assert.equal(err.split('\n').length, 1);
    assert.throws(() => readFileSync(out));
  });

  test('safetensors carries ids: they match the document\'s, and spans and texts are attached', () => {
    const out = path.join(dir, 'st.json');
    run('import', path.join(dir, 'routed.safetensors'), '--format', 'safetensors', '-o', out, '--file', path.join(dir, 'doc.py'), '--tokenizer', DEMO);
    assert.deepEqual(readTraceJson(readFileSync(out, 'utf8')).tokens, original.tokens);
  });

  test('safetensors carries ids: a document of the same length with other tokens names the first differing token', () => {
    // Same token count, one word swapped: the tokenizer gives another id at that place.
    const other = DOC.replace('return', 'yield');
    const mine = run('tokens', '--tokenizer', DEMO, '--text', other);
    const ids = (JSON.parse(mine) as { id: number }[]).map((t) => t.id);
    assert.equal(ids.length, original.tokens.length, 'the swapped document has the same token count');
    const first = ids.findIndex((id, i) => id !== original.tokens[i]!.id);
    const err = fails('import', path.join(dir, 'routed.safetensors'), '--format', 'safetensors', '-o', path.join(dir, 'never2.json'), '--text', other, '--tokenizer', DEMO);
    assert.equal(err, `moe-lens: import: the document's token ids differ from the imported ones: first differing id at token ${first} (${ids[first]} vs ${original.tokens[first]!.id})`);
  });

  test('--text without --tokenizer (and the reverse) is a usage error', () => {
    assert.match(fails('import', path.join(dir, 'routed.csv'), '--format', 'csv', '-o', path.join(dir, 'x.json'), '--text', DOC), /go together/);
    assert.match(fails('import', path.join(dir, 'routed.csv'), '--format', 'csv', '-o', path.join(dir, 'x.json'), '--tokenizer', DEMO), /go together/);
  });
});

describe('attachSpans (pure)', () => {
  const bare = (ids: (number | null)[]): RoutingTrace => ({ ...original, tokens: ids.map((id) => ({ id, text: null, start: null, end: null })) });
  const enc = [
    { id: 5, text: 'a', start: 0, end: 1 },
    { id: 6, text: 'b', start: 1, end: 2, partial: true },
  ];
  test('null ids take the tokenizer ids; equal ids pass; partial is kept', () => {
    assert.deepEqual(attachSpans(bare([null, null]), enc).tokens, enc);
    assert.deepEqual(attachSpans(bare([5, 6]), enc).tokens, enc);
  });
  test('count and id mismatches throw an ImportError saying which', () => {
    assert.throws(() => attachSpans(bare([null]), enc), (e: Error) => e instanceof ImportError && /: 2 vs 1 /.test(e.message));
    assert.throws(() => attachSpans(bare([5, 7]), enc), (e: Error) => e instanceof ImportError && /first differing id at token 1 \(6 vs 7\)/.test(e.message));
  });
});
