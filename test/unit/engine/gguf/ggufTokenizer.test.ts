/**
 * The tokenizer a GGUF file carries gives the same ids and exact UTF-16 spans as the tokenizer.json
 * it was written from, on the adversarial corpus (the embedded model's, written as llama.cpp's
 * converter writes it) and for Llama-2's SentencePiece vocabulary (llama: scores, byte fallback); a pre-tokenizer MoE Lens does not know is refused for text with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { TokenizerCore } from '../../../../src/engine/tokenizer/core';
import { loadCore, loadGgufCore } from '../../../../src/engine/tokenizer/load';
import { loadTokenizer } from '../../../../src/engine/tokenizer/tokenizer';
import { tokenizerMetadata } from '../../../../tools/gguf/tokenizerToGguf';
import { writeGguf } from '../../../../tools/gguf/writer';
import { generateCorpus } from '../../tokenizer/corpus';
import { DEMO_TOKENIZER_DIR, packageTokenizerDir } from '../../tokenizer/fixtures';
import { readTokenizerJson, rust, rustWithoutSpecials } from '../../tokenizer/reference';

const COUNT = Number(process.env.MOE_LENS_CORPUS_COUNT ?? 1000);
const tmp = mkdtempSync(join(tmpdir(), 'moe-lens-gguf-tok-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A metadata-only GGUF holding the tokenizer of `dir`. */
function tokenizerGguf(dir: string, name: string, extra: Record<string, unknown> = {}, arch = 'qwen2moe'): string {
  const meta = tokenizerMetadata(dir, 0);
  assert.ok(meta, `${dir} has a tokenizer.json`);
  const file = join(tmp, `${name}.gguf`);
  writeGguf(file, { 'general.architecture': arch, ...meta, ...(extra as Record<string, never>) }, []);
  return file;
}

function sameIds(a: ArrayLike<number>, b: readonly number[]): boolean {
  return a.length === b.length && b.every((v, i) => a[i] === v);
}

/** Encodings of `corpus` by both cores, in both special-token modes, that differ in ids, spans or flags. */
function differences(a: TokenizerCore, b: TokenizerCore, corpus: readonly string[]): string[] {
  const failures: string[] = [];
  for (const text of corpus) {
    for (const mode of ['special', 'text'] as const) {
      const x = a.encode(text, { addSpecialTokens: true, specialTokensInText: mode });
      const y = b.encode(text, { addSpecialTokens: true, specialTokensInText: mode });
      for (const key of ['ids', 'starts', 'ends', 'flags'] as const) {
        if (x[key].length !== y[key].length || x[key].some((v, i) => v !== y[key][i])) {
          failures.push(`${mode} ${key} differ for ${JSON.stringify(text.slice(0, 60))}`);
        }
      }
    }
  }
  return failures;
}

describe('tokenizer from GGUF metadata', () => {
  it('the embedded model: same ids, spans and flags as its tokenizer.json on the adversarial corpus', async () => {
    const file = tokenizerGguf(DEMO_TOKENIZER_DIR, 'demo');
    const fromJson = loadCore(DEMO_TOKENIZER_DIR);
    const fromGguf = await loadGgufCore(file);
    const json = readTokenizerJson(DEMO_TOKENIZER_DIR);
    const specials = (json.added_tokens ?? []).filter((a) => a.special).map((a) => a.content);
    const corpus = generateCorpus(4242, { count: COUNT, specials, longLines: 2 });
    assert.ok(corpus.length >= 1000);
    const failures = differences(fromJson, fromGguf, corpus);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${corpus.length * 2} encodings differ`);
    assert.equal(fromGguf.bosTokenId, fromJson.bosTokenId);
    assert.equal(fromGguf.eosTokenId, fromJson.eosTokenId);
  });

  it('Llama-2 SentencePiece (llama: scores, byte fallback, ▁): same ids, spans and flags as its tokenizer.json and as Rust tokenizers', async () => {
    const dir = packageTokenizerDir('llama2');
    const file = tokenizerGguf(dir, 'llama2', {}, 'llama');
    const fromJson = loadCore(dir);
    const fromGguf = await loadGgufCore(file);
    const json = readTokenizerJson(dir);
    const specials = (json.added_tokens ?? []).filter((a) => a.special).map((a) => a.content);
    const corpus = generateCorpus(1515, { count: COUNT, specials, longLines: 2 });
    assert.ok(corpus.length >= 1000);
    const failures = differences(fromJson, fromGguf, corpus);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${corpus.length * 2} encodings differ`);
    // The Rust reference directly, not only through our tokenizer.json reader.
    const rustSpecial = rust.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    const rustText = rustWithoutSpecials(json);
    const [withSpecials, asText] = await Promise.all([rustSpecial.encodeBatch(corpus, { addSpecialTokens: true }), rustText.encodeBatch(corpus, { addSpecialTokens: true })]);
    const rustFailures = corpus.filter((text, i) => {
      const special = fromGguf.encode(text, { addSpecialTokens: true, specialTokensInText: 'special' }).ids;
      const plain = fromGguf.encode(text, { addSpecialTokens: true, specialTokensInText: 'text' }).ids;
      return !sameIds(special, withSpecials[i].getIds()) || !sameIds(plain, asText[i].getIds());
    });
    assert.deepEqual(rustFailures.slice(0, 3).map((t) => t.slice(0, 60)), [], `${rustFailures.length} of ${corpus.length} texts differ from Rust`);
    assert.equal(fromGguf.bosTokenId, 1);
    assert.equal(fromGguf.eosTokenId, 2);
    // Byte fallback: a character outside the vocabulary is its UTF-8 bytes, one <0xNN> token each.
    const emoji = fromGguf.encode('🦙', { addSpecialTokens: false, specialTokensInText: 'text' });
    const vocab = (json.model as { vocab: Record<string, number> }).vocab;
    assert.deepEqual(Array.from(emoji.ids), ['▁', '<0xF0>', '<0x9F>', '<0xA6>', '<0x99>'].map((t) => vocab[t]));
    assert.deepEqual([Array.from(emoji.starts), Array.from(emoji.ends)], [[0, 0, 0, 0, 0], [0, 2, 2, 2, 2]]);
  });

  it('a pre-tokenizer it does not know: text is refused with the reason, naming ids as the way to run', async () => {
    const file = tokenizerGguf(DEMO_TOKENIZER_DIR, 'unknown-pre', { 'tokenizer.ggml.pre': 'default' });
    await assert.rejects(loadGgufCore(file), /pre-tokenizer 'default' \(tokenizer\.ggml\.pre\) is not one MoE Lens knows.*runs from token ids \(--ids\)/);
    await assert.rejects(loadTokenizer(file), /pre-tokenizer 'default'/);
  });

  it('loadTokenizer takes a GGUF file in place of a folder', async () => {
    const file = tokenizerGguf(DEMO_TOKENIZER_DIR, 'demo-worker');
    const tok = await loadTokenizer(file);
    const folder = await loadTokenizer(DEMO_TOKENIZER_DIR);
    try {
      const text = 'def naïve(x):\r\n\treturn x  # 👩‍💻 <|im_end|>';
      assert.deepEqual(await tok.encode(text), await folder.encode(text));
      assert.equal(tok.decode([1, 2, 3]), folder.decode([1, 2, 3]));
    } finally {
      tok.dispose();
      folder.dispose();
    }
  });
});
