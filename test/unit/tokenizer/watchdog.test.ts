/**
 * A tokenizer.json that hangs (a split regex backtracking catastrophically) or is malformed gives a
 * clear error in bounded time, and the tokenizer keeps working after a watchdog kill.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BYTE_TO_CHAR } from '../../../src/engine/tokenizer/bytes';
import { loadTokenizer, TokenizerError } from '../../../src/engine/tokenizer/tokenizer';

const root = mkdtempSync(join(tmpdir(), 'moe-lens-tok-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A byte-level BPE with every byte as a token and one merge ("a"+"b"). */
function byteLevel(preSplit: unknown): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((ch, b) => (vocab[ch] = b));
  vocab.ab = 256;
  return {
    version: '1.0',
    added_tokens: [{ id: 257, content: '<|end|>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [preSplit, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
    post_processor: null,
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab, merges: ['a b'] },
  };
}

let n = 0;
function folder(tokenizerJson: string | null, config?: string): string {
  const dir = join(root, `t${n++}`);
  mkdirSync(dir);
  if (tokenizerJson !== null) writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson);
  if (config !== undefined) writeFileSync(join(dir, 'tokenizer_config.json'), config);
  return dir;
}

const split = (regex: string): unknown => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });

describe('watchdog', () => {
  it('stops a catastrophically backtracking split regex with a clear error, then works again', async () => {
    const tok = await loadTokenizer(folder(JSON.stringify(byteLevel(split('(a+)+b')))));
    try {
      assert.deepEqual((await tok.encode('xab')).map((t) => t.id), [120, 256]);
      const t0 = performance.now();
      await assert.rejects(
        tok.encode('a'.repeat(64) + '!', { timeoutMs: 1500 }),
        (err: Error) => err instanceof TokenizerError && /took longer than 1\.5 s/.test(err.message) && /tokenizer\.json/.test(err.message),
      );
      const ms = performance.now() - t0;
      assert.ok(ms < 10_000, `watchdog fired after ${ms} ms`);
      // A fresh worker serves the next call.
      assert.deepEqual((await tok.encode('ab')).map((t) => [t.id, t.start, t.end]), [[256, 0, 2]]);
    } finally {
      tok.dispose();
    }
  });
});

describe('malformed tokenizer folders', () => {
  const good = byteLevel(split('\\s+'));
  const cases: [string, () => string, RegExp][] = [
    ['missing folder', () => join(root, 'nope'), /not found/],
    ['no tokenizer.json', () => folder(null), /no tokenizer\.json/],
    ['not JSON', () => folder('{"model": '), /tokenizer\.json is not valid JSON/],
    ['a JSON array', () => folder('[]'), /must contain a JSON object/],
    ['no model', () => folder(JSON.stringify({ ...good, model: undefined })), /no "model"/],
    ['WordPiece model', () => folder(JSON.stringify({ ...good, model: { type: 'WordPiece', vocab: {} } })), /model type is 'WordPiece'/],
    ['BPE without merges', () => folder(JSON.stringify({ ...good, model: { type: 'BPE', vocab: { a: 0 } } })), /no merges/],
    ['merge of unknown tokens', () => folder(JSON.stringify({ ...good, model: { type: 'BPE', vocab: { a: 0 }, merges: ['a q'] } })), /missing from the vocab/],
    ['invalid split regex', () => folder(JSON.stringify(byteLevel(split('(')))), /not a usable tokenizer/],
    ['unsupported normalizer', () => folder(JSON.stringify({ ...good, normalizer: { type: 'Shout' } })), /not a usable tokenizer: .*Shout/],
    ['malformed added token', () => folder(JSON.stringify({ ...good, added_tokens: [{ id: 'x' }] })), /added token is malformed/],
    ['bad tokenizer_config.json', () => folder(JSON.stringify(good), '{oops'), /tokenizer_config\.json is not valid JSON/],
  ];
  for (const [name, make, message] of cases) {
    it(`${name}: clear error`, async () => {
      const t0 = performance.now();
      await assert.rejects(loadTokenizer(make()), (err: Error) => err instanceof TokenizerError && message.test(err.message));
      assert.ok(performance.now() - t0 < 15_000);
    });
  }
});

describe('dispose', () => {
  it('rejects a call in flight and any later call', async () => {
    const tok = await loadTokenizer(folder(JSON.stringify(byteLevel(split('(a+)+b')))));
    const inFlight = tok.encode('a'.repeat(64) + '!', { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    tok.dispose();
    await assert.rejects(inFlight, /disposed/);
    await assert.rejects(tok.encode('ab'), /disposed/);
  });
});
