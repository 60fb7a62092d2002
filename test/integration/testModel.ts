/**
 * The model the engine-process tests load: the embedded models/demo when it is complete, else the
 * tiny mixtral fixture (test/fixtures/mixtral, vocab 512) with a byte-level tokenizer of 256
 * tokens written beside it, so ids stay inside the fixture's vocabulary.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** GPT-2's byte → printable character table. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = [];
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

export function byteTokenizerJson(): string {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => (vocab[ch] = b));
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  });
}

export interface TestModel {
  /** null = the embedded model. */
  path: string | null;
  description: string;
  cleanup(): void;
}

export function testModel(): TestModel | null {
  const demo = path.join(root, 'models', 'demo');
  if (['config.json', 'model.safetensors', 'tokenizer.json'].every((f) => existsSync(path.join(demo, f)))) {
    return { path: null, description: 'embedded models/demo', cleanup: () => undefined };
  }
  const fixture = path.join(root, 'test', 'fixtures', 'mixtral');
  if (!existsSync(path.join(fixture, 'model.safetensors'))) {
    return null;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-test-model-'));
  for (const f of ['config.json', 'model.safetensors']) {
    copyFileSync(path.join(fixture, f), path.join(dir, f));
  }
  writeFileSync(path.join(dir, 'tokenizer.json'), byteTokenizerJson());
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false, add_eos_token: false }));
  return { path: dir, description: 'test/fixtures/mixtral + byte-level tokenizer', cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
