/**
 * The public tokenizer (worker thread) on real tokenizers: what a span means for normalized,
 * split and special text; BOS/EOS per tokenizer_config.json; the two special-token treatments;
 * lone surrogates; long lines and a 1 MB document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadTokenizer, type DocumentTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import type { TraceToken } from '../../../src/shared/trace';
import { packageTokenizerDir } from './fixtures';
import { rust } from './reference';

const spans = (ts: TraceToken[]): [number | null, number | null][] => ts.map((t) => [t.start, t.end]);

/** Every code unit covered, in order, no gaps. */
function assertCovers(text: string, tokens: TraceToken[]): void {
  const spanned = tokens.filter((t) => t.start !== null);
  assert.equal(spanned[0]?.start ?? 0, 0);
  assert.equal(spanned[spanned.length - 1]?.end ?? 0, text.length);
  for (let i = 1; i < spanned.length; i++) {
    assert.ok(spanned[i].start! <= spanned[i - 1].end!, `gap before token ${i}`);
    assert.ok(spanned[i].start! >= spanned[i - 1].start!, `token ${i} out of order`);
  }
}

describe('qwen3 through the worker', () => {
  let tok: DocumentTokenizer;
  before(async () => {
    tok = await loadTokenizer(packageTokenizerDir('qwen3'));
  });
  after(() => tok.dispose());

  it('reports vocabulary and special ids from the folder', () => {
    assert.equal(tok.vocabSize, 151669);
    assert.equal(tok.bosTokenId, null);
    assert.equal(tok.eosTokenId, 151645);
    assert.equal(tok.tokenText(9707), 'Hello');
  });

  it('gives a combining accent that NFC folds to the token of its letter', async () => {
    const text = 'cafe\u0301 ok';
    const tokens = await tok.encode(text);
    const withE = tokens.find((t) => t.start! <= 3 && t.end! > 3)!;
    assert.ok(withE.end! >= 5, `token ${JSON.stringify(withE)} should cover the accent at 4`);
    assert.equal(tok.decode(tokens.map((t) => t.id)), text.normalize('NFC'));
    assertCovers(text, tokens);
  });

  it('marks the tokens of a split emoji partial, both spanning it', async () => {
    // Qwen has ' ' + the emoji's first bytes as one token and the last byte as another.
    const tokens = await tok.encode(' \u{1F44D}');
    assert.deepEqual(
      tokens.map((t) => [t.id, t.start, t.end, t.partial]),
      [
        [61804, 0, 3, true],
        [235, 1, 3, true],
      ],
    );
  });

  it("treats special-token strings in the document as text by default, as the special token with 'special'", async () => {
    const text = 'a<|endoftext|>b';
    const asText = await tok.encode(text);
    assert.ok(!asText.some((t) => t.id === 151643));
    assertCovers(text, asText);
    const asSpecial = await tok.encode(text, { specialTokensInText: 'special' });
    assert.deepEqual(
      asSpecial.map((t) => [t.id, t.start, t.end]),
      [
        [64, 0, 1],
        [151643, 1, 14],
        [65, 14, 15],
      ],
    );
  });

  it('encodes a lone surrogate as Rust sees it (U+FFFD), its span on the code unit', async () => {
    const broken = await tok.encode('a\ud800b');
    const replaced = await tok.encode('a\ufffdb');
    assert.deepEqual(broken.map((t) => t.id), replaced.map((t) => t.id));
    assert.deepEqual(spans(broken), spans(replaced));
    assert.ok(broken.some((t) => t.start! <= 1 && t.end! >= 2));
  });

  it('covers CRLF, tabs, ZWJ sequences, flags and RTL text', async () => {
    const text = 'if x:\r\n\treturn \u05e9\u05dc\u05d5\u05dd \u{1F468}\u200d\u{1F469}\u200d\u{1F467} \u{1F1EB}\u{1F1F7} \u0645\u0631\u062d\u0628\u0627\r\n';
    const tokens = await tok.encode(text);
    assertCovers(text, tokens);
    const enc = await rust.Tokenizer.fromFile(`${packageTokenizerDir('qwen3')}/tokenizer.json`).encode(text, null, { addSpecialTokens: false });
    assert.deepEqual(tokens.map((t) => t.id), enc.getIds());
  });

  it('handles a 10,000-character line and a 1 MB document', async () => {
    const line = 'x = [' + Array.from({ length: 2000 }, (_, i) => i).join(',') + ']';
    const long = line.slice(0, 10_000);
    assertCovers(long, await tok.encode(long));
    const doc = ('The router picks two experts.\n\tdef f(x):\r\n\t\treturn x  # \u00e9\u{1F600}\n').repeat(20_000);
    assert.ok(doc.length >= 1_000_000);
    const t0 = performance.now();
    const tokens = await tok.encode(doc);
    const ms = performance.now() - t0;
    assertCovers(doc, tokens);
    // Generous: a shared 2-core CI machine; bench/tokenize measures it properly.
    assert.ok(ms < 60_000, `1 MB took ${ms} ms`);
  });
});

describe('BOS/EOS per tokenizer_config.json', () => {
  it('llama2: <s> from the template, no span; the rest equals Rust with special tokens', async () => {
    const dir = packageTokenizerDir('llama2');
    const tok = await loadTokenizer(dir);
    try {
      const text = 'Hello world';
      const tokens = await tok.encode(text);
      assert.deepEqual([tokens[0].id, tokens[0].start, tokens[0].end], [1, null, null]);
      const enc = await rust.Tokenizer.fromFile(`${dir}/tokenizer.json`).encode(text, null, { addSpecialTokens: true });
      assert.deepEqual(tokens.map((t) => t.id), enc.getIds());
      assert.deepEqual(spans(tokens.slice(1)), [
        [0, 5],
        [5, 11],
      ]);
      assert.equal((await tok.encode(text, { addSpecialTokens: false }))[0].id, 22557);
      assert.equal(tok.decode(tokens.slice(1).map((t) => t.id)), text);
    } finally {
      tok.dispose();
    }
  });

  it("llama2: the ▁ prepended after a special token has an empty span where the text resumes", async () => {
    const tok = await loadTokenizer(packageTokenizerDir('llama2'));
    try {
      const tokens = await tok.encode('<s> hi', { specialTokensInText: 'special', addSpecialTokens: false });
      assert.deepEqual(
        tokens.map((t) => [t.id, t.start, t.end]),
        [
          [1, 0, 3],
          [28705, 3, 3],
          [12014, 3, 6],
        ],
      );
    } finally {
      tok.dispose();
    }
  });

  it('deepseek_v3: add_bos_token in the config adds BOS although tokenizer.json has no template', async () => {
    const tok = await loadTokenizer(packageTokenizerDir('deepseek_v3'));
    try {
      assert.equal(tok.bosTokenId, 0);
      assert.equal(tok.eosTokenId, 1);
      const tokens = await tok.encode('Hi there');
      assert.deepEqual(tokens.map((t) => [t.id, t.start, t.end]), [
        [0, null, null],
        [23166, 0, 2],
        [1031, 2, 8],
      ]);
    } finally {
      tok.dispose();
    }
  });

  it('gptoss: no BOS (no flags in the config, ByteLevel post-processor)', async () => {
    const tok = await loadTokenizer(packageTokenizerDir('gptoss'));
    try {
      const tokens = await tok.encode('Hi');
      assert.ok(tokens.every((t) => t.start !== null));
      assert.equal(tok.bosTokenId, 199998);
    } finally {
      tok.dispose();
    }
  });
});
