/**
 * The tokenizer a GGUF file carries gives the same ids and exact UTF-16 spans as the tokenizer.json
 * it was written from, on the adversarial corpus (the embedded model's, written as llama.cpp's
 * converter writes it); a pre-tokenizer MoE Lens does not know is refused for text with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCore, loadGgufCore } from '../../../../src/engine/tokenizer/load';
import { loadTokenizer } from '../../../../src/engine/tokenizer/tokenizer';
import { tokenizerMetadata } from '../../../../tools/gguf/tokenizerToGguf';
import { writeGguf } from '../../../../tools/gguf/writer';
import { generateCorpus } from '../../tokenizer/corpus';
import { DEMO_TOKENIZER_DIR } from '../../tokenizer/fixtures';
import { readTokenizerJson } from '../../tokenizer/reference';

const COUNT = Number(process.env.MOE_LENS_CORPUS_COUNT ?? 1000);
const tmp = mkdtempSync(join(tmpdir(), 'moe-lens-gguf-tok-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A metadata-only GGUF holding the tokenizer of `dir`. */
function tokenizerGguf(dir: string, name: string, extra: Record<string, unknown> = {}): string {
  const meta = tokenizerMetadata(dir, 0);
  assert.ok(meta, `${dir} has a tokenizer.json`);
  const file = join(tmp, `${name}.gguf`);
  writeGguf(file, { 'general.architecture': 'qwen2moe', ...meta, ...(extra as Record<string, never>) }, []);
  return file;
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
    const failures: string[] = [];
    for (const text of corpus) {
      for (const mode of ['special', 'text'] as const) {
        const a = fromJson.encode(text, { addSpecialTokens: true, specialTokensInText: mode });
        const b = fromGguf.encode(text, { addSpecialTokens: true, specialTokensInText: mode });
        for (const key of ['ids', 'starts', 'ends', 'flags'] as const) {
          if (a[key].length !== b[key].length || a[key].some((v, i) => v !== b[key][i])) {
            failures.push(`${mode} ${key} differ for ${JSON.stringify(text.slice(0, 60))}`);
          }
        }
      }
    }
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${corpus.length * 2} encodings differ`);
    assert.equal(fromGguf.bosTokenId, fromJson.bosTokenId);
    assert.equal(fromGguf.eosTokenId, fromJson.eosTokenId);
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
