/**
 * A tokenizer.json that hangs (a split regex backtracking catastrophically) or is malformed gives a
 * clear error in bounded time, and the tokenizer keeps working after a watchdog kill.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

describe('cancel', () => {
  it('an aborted signal stops a running encode at once, and the next call gets a fresh worker', async () => {
    const tok = await loadTokenizer(folder(JSON.stringify(byteLevel(split('(a+)+b')))));
    try {
      const ac = new AbortController();
      // The regex backtracks for far longer than the watchdog limit: only the abort can end it.
      const inFlight = tok.encode('a'.repeat(64) + '!', { timeoutMs: 600_000, signal: ac.signal });
      setTimeout(() => ac.abort(), 200);
      await assert.rejects(inFlight, (err: Error) => err instanceof TokenizerError && /tokenizing was cancelled/.test(err.message));
      assert.deepEqual((await tok.encode('ab')).map((t) => t.id), [256]);
      await assert.rejects(tok.encode('ab', { signal: AbortSignal.abort() }), /abort/i);
    } finally {
      tok.dispose();
    }
  });
});

describe('timeouts out of the timer range', () => {
  // setTimeout turns a delay over 2^31 − 1 ms into 1 ms: such a limit would stop every call at once.
  it('refuses --timeout-ms style values past 2^31 − 1 ms instead of firing after 1 ms', async () => {
    const tok = await loadTokenizer(folder(JSON.stringify(byteLevel(split('\\s+')))));
    try {
      await assert.rejects(tok.encode('ab', { timeoutMs: 2 ** 31 }), (err: Error) => err instanceof TokenizerError && /from 1 to 2147483647/.test(err.message));
      assert.deepEqual((await tok.encode('ab', { timeoutMs: 2 ** 31 - 1 })).map((t) => t.id), [256]);
    } finally {
      tok.dispose();
    }
  });

  it('refuses MOE_LENS_TOKENIZE_TIMEOUT_MS past the range, naming the variable', async () => {
    const tok = await loadTokenizer(folder(JSON.stringify(byteLevel(split('\\s+')))));
    const saved = process.env.MOE_LENS_TOKENIZE_TIMEOUT_MS;
    process.env.MOE_LENS_TOKENIZE_TIMEOUT_MS = '3000000000';
    try {
      await assert.rejects(tok.encode('ab'), /MOE_LENS_TOKENIZE_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647/);
    } finally {
      if (saved === undefined) {
        delete process.env.MOE_LENS_TOKENIZE_TIMEOUT_MS;
      } else {
        process.env.MOE_LENS_TOKENIZE_TIMEOUT_MS = saved;
      }
      tok.dispose();
    }
  });
});

describe('tokenizer files that are not regular files', () => {
  it('tokenizer.json as a FIFO is refused at once instead of blocking the worker for ever', async () => {
    const dir = folder(null);
    execFileSync('mkfifo', [join(dir, 'tokenizer.json')]);
    await assert.rejects(loadTokenizer(dir), (err: Error) => err instanceof TokenizerError && /tokenizer\.json is a FIFO \(named pipe\); only regular files are read/.test(err.message));
  });

  it('tokenizer_config.json as a FIFO is refused too', async () => {
    const dir = folder(JSON.stringify(byteLevel(split('\\s+'))));
    execFileSync('mkfifo', [join(dir, 'tokenizer_config.json')]);
    await assert.rejects(loadTokenizer(dir), /tokenizer_config\.json is a FIFO/);
  });
});
