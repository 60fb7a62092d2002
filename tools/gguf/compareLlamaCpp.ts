/**
 * @file The llama.cpp checks of issue 15, run once and reported (README): MoE Lens and llama.cpp
 * (node-llama-cpp 3.21.1, its prebuilt CPU build) on the same GGUF files —
 *  1. every golden family as F32 GGUF: top-5 next-token probabilities after the fixture's ids;
 *  2. the embedded model as BF16 GGUF, and with its weight matrices in each quantisation type:
 *     top-5 probabilities, and how much of the gap llama.cpp's own activation quantisation makes
 *     (llama.cpp on the Q file vs llama.cpp on the same values stored as F32);
 *  3. the embedded model's GGUF tokenizer: ids of llama.cpp's tokenizer vs ours on the adversarial corpus.
 *
 *   npx tsx tools/gguf/compareLlamaCpp.ts [OUT_DIR]     (default /tmp/moe-lens-llamacpp)
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { dequantize } from '../../src/engine/checkpoint/gguf/dequant/index';
import { blockGeometry, type BlockType } from '../../src/engine/checkpoint/gguf/types';
import { loadModel } from '../../src/engine/model';
import { loadGgufCore } from '../../src/engine/tokenizer/load';
import { generateCorpus } from '../../test/unit/tokenizer/corpus';
import { convertHfToGguf } from './convertHf';
import { llamaCppNextProbabilities, llamaCppTokenize } from './llamaCppCheck';
import { quantize, randomBlocks, xorshift32 } from './quantize';
import type { GgufTensorSpec } from './writer';

const ROOT = path.resolve(__dirname, '..', '..');
const FAMILIES = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'deepseek_v3', 'gpt_oss'];
const TYPES: BlockType[] = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'MXFP4'];

async function ours(file: string, ids: number[]): Promise<number[]> {
  const m = await loadModel(file, { backend: 'cpu' });
  try {
    const row = ((await m.run(ids, { withLogits: true })).logits as number[][])[ids.length - 1];
    const max = Math.max(...row);
    const ex = row.map((v) => Math.exp(v - max));
    const sum = ex.reduce((a, b) => a + b, 0);
    return ex.map((v) => v / sum);
  } finally {
    m.dispose();
  }
}

/** Largest |Δp| over the union of both top-5 lists, and whether the top-5 ids agree in order. */
function top5(a: number[], b: Map<number, number>): { maxDiff: number; same: boolean; top: [number, number][] } {
  const ta = a.map((p, i) => [i, p] as [number, number]).sort((x, y) => y[1] - x[1]).slice(0, 5);
  const tb = [...b.entries()].sort((x, y) => y[1] - x[1]).slice(0, 5);
  const ids = new Set([...ta, ...tb].map(([i]) => i));
  const maxDiff = Math.max(...[...ids].map((i) => Math.abs(a[i] - (b.get(i) ?? 0))));
  return { maxDiff, same: ta.every(([i], k) => i === tb[k][0]), top: ta };
}

function diffMaps(a: Map<number, number>, b: Map<number, number>): number {
  const ids = [...a.entries()].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([i]) => i);
  return Math.max(...ids.map((i) => Math.abs((a.get(i) ?? 0) - (b.get(i) ?? 0))));
}

async function main(): Promise<void> {
  const out = process.argv[2] ?? '/tmp/moe-lens-llamacpp';
  mkdirSync(out, { recursive: true });
  const fmt = (x: number): string => x.toExponential(2);
  console.log('# 1. golden families, F32 GGUF: |Δp| top-5 (MoE Lens vs llama.cpp)');
  for (const f of process.env.SKIP_FAMILIES ? [] : FAMILIES) {
    const dir = path.join(ROOT, 'test', 'fixtures', f);
    const file = path.join(out, `${f}-F32.gguf`);
    await convertHfToGguf(dir, file);
    const ids = (JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8')) as { input_ids: number[][] }).input_ids[0];
    const r = top5(await ours(file, ids), await llamaCppNextProbabilities(file, ids));
    console.log(`${f}\tsameTop5=${r.same}\tmax|Δp|=${fmt(r.maxDiff)}\tp1=${r.top[0][1].toFixed(4)}`);
  }
  const demo = path.join(ROOT, 'models', 'demo');
  const ids = Array.from({ length: 24 }, (_, i) => (i * 37 + 11) % 4000);
  console.log('# 2. embedded model: BF16, and weight matrices in each quant type');
  const bf16 = path.join(out, 'demo-BF16.gguf');
  await convertHfToGguf(demo, bf16, { type: 'BF16', untie: true });
  const bf16F32 = path.join(out, 'demo-BF16-as-F32.gguf');
  await convertHfToGguf(demo, bf16F32, { type: 'F32', untie: true }); // the same (bf16) values stored as F32
  const llamaB = await llamaCppNextProbabilities(bf16, ids);
  const llamaBF = await llamaCppNextProbabilities(bf16F32, ids);
  const b = top5(await ours(bf16, ids), llamaB);
  console.log(`BF16\tsameTop5=${b.same}\tmax|Δp| MoE Lens vs llama.cpp=${fmt(b.maxDiff)}\tllama.cpp BF16 vs its F32 twin (bf16 activations)=${fmt(diffMaps(llamaB, llamaBF))}\tp1=${b.top[0][1].toFixed(4)}`);
  for (const type of process.env.TYPES ? (process.env.TYPES.split(',') as BlockType[]) : TYPES) {
    const { blockSize } = blockGeometry(type);
    const blocks = new Map<string, Uint8Array>();
    // The demo's own weights quantised (tools/gguf/quantize.ts: llama.cpp's reference quantisers for Q8_0/Q4_0, simple ones for the rest).
    const asType = (t: GgufTensorSpec): GgufTensorSpec => {
      const cols = t.shape[t.shape.length - 1];
      if (t.shape.length < 2 || cols % blockSize !== 0 || t.name === 'token_embd.weight') {
        return t;
      }
      const count = t.shape.reduce((x, y) => x * y, 1);
      const raw = t.values ? quantize(type, t.values) : randomBlocks(type, count / blockSize, xorshift32(blocks.size + 1), 0.02);
      blocks.set(t.name, raw);
      return { name: t.name, shape: t.shape, type, raw };
    };
    const asF32 = (t: GgufTensorSpec): GgufTensorSpec => {
      const raw = blocks.get(t.name);
      return raw ? { name: t.name, shape: t.shape, type: 'F32', values: dequantize(type, raw) } : t;
    };
    const q = path.join(out, `demo-${type}.gguf`);
    const f32 = path.join(out, `demo-${type}-as-F32.gguf`);
    await convertHfToGguf(demo, q, { transform: asType, untie: true });
    await convertHfToGguf(demo, f32, { transform: asF32, untie: true });
    const llamaQ = await llamaCppNextProbabilities(q, ids);
    const llamaF = await llamaCppNextProbabilities(f32, ids);
    const r = top5(await ours(q, ids), llamaQ);
    const rf = top5(await ours(f32, ids), llamaF);
    console.log(
      `${type}\tsameTop5=${r.same}\tmax|Δp| MoE Lens vs llama.cpp=${fmt(r.maxDiff)}\tllama.cpp Q vs its F32 twin (activation quantisation)=${fmt(diffMaps(llamaQ, llamaF))}\tF32 twin MoE Lens vs llama.cpp=${fmt(rf.maxDiff)}\tp1=${r.top[0][1].toFixed(4)}`,
    );
  }
  if (process.env.SKIP_TOKENIZER) {
    return;
  }
  console.log('# 3. embedded model GGUF tokenizer: llama.cpp ids vs MoE Lens ids (no BOS, special-token text as text)');
  const core = await loadGgufCore(bf16);
  const corpus = generateCorpus(4242, { count: 1000, longLines: 0 });
  const theirs = await llamaCppTokenize(bf16, corpus);
  let same = 0;
  const diffs: string[] = [];
  corpus.forEach((text, n) => {
    const mine = Array.from(core.encode(text, { addSpecialTokens: false, specialTokensInText: 'text' }).ids);
    if (mine.length === theirs[n].length && mine.every((v, i) => v === theirs[n][i])) {
      same++;
    } else if (diffs.length < 5) {
      diffs.push(JSON.stringify(text.slice(0, 40)));
    }
  });
  console.log(`tokenizer\t${same}/${corpus.length} documents identical${diffs.length ? `; first differing: ${diffs.join(' ')}` : ''}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
