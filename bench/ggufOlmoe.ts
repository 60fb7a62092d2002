/**
 * @file A real-shaped Q4_K_M OLMoE-1B-7B GGUF (16 layers, 64 experts top-8 of width 1024, hidden
 * 2048, vocabulary 50304; ~4 GB) written by this tool (seeded random Q4_K/Q6_K blocks in llama.cpp's
 * Q4_K_M mix: Q6_K for the output and for attn_v/ffn_down of the "more bits" layers, F32 routers and
 * norms), then `moe-lens trace --ids <256 ids> --max-memory 3072` on it through the built CLI, with
 * its peak RSS from /usr/bin/time. The file is deleted afterwards unless --keep.
 *
 *   npx tsx bench/ggufOlmoe.ts [--dir /tmp/i15-arch] [--tokens 256] [--max-memory 3072] [--keep]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { blockGeometry, type BlockType } from '../src/engine/checkpoint/gguf/types';
import { archMetadata } from '../tools/gguf/convertHf';
import { randomBlocks, xorshift32 } from '../tools/gguf/quantize';
import { byteVocabMetadata } from '../tools/gguf/tokenizerToGguf';
import { writeGguf, type GgufTensorSpec } from '../tools/gguf/writer';
import { builtCli } from '../test/helpers/builtCli';

const OLMOE_1B_7B = {
  model_type: 'olmoe',
  vocab_size: 50304,
  hidden_size: 2048,
  intermediate_size: 1024,
  num_hidden_layers: 16,
  num_attention_heads: 16,
  num_key_value_heads: 16,
  num_experts: 64,
  num_experts_per_tok: 8,
  max_position_embeddings: 4096,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** llama.cpp's use_more_bits(i, n): the first and last eighth, and every third layer between. */
const moreBits = (i: number, n: number): boolean => i < n / 8 || i >= (7 * n) / 8 || (i - Math.floor(n / 8)) % 3 === 2;

/** Random blocks of `type` for a [..., cols] tensor, produced 16 MB at a time while the file is written. */
function blocks(name: string, shape: number[], type: BlockType | 'F32', seed: number): GgufTensorSpec {
  const count = shape.reduce((a, b) => a * b, 1);
  if (type === 'F32') {
    const next = xorshift32(seed);
    return { name, shape, type, values: Float32Array.from({ length: count }, () => (name.includes('norm') ? 1 : ((next() / 2 ** 32) * 2 - 1) * 0.05)) };
  }
  const { blockSize } = blockGeometry(type);
  const total = count / blockSize;
  return {
    name,
    shape,
    type,
    chunks: function* () {
      const next = xorshift32(seed);
      const per = Math.max(1, Math.floor((16 << 20) / blockGeometry(type).typeSize));
      for (let done = 0; done < total; done += per) {
        yield randomBlocks(type, Math.min(per, total - done), next, 0.02);
      }
    },
  };
}

function olmoeTensors(): GgufTensorSpec[] {
  const { vocab_size: V, hidden_size: D, intermediate_size: I, num_hidden_layers: L, num_experts: E } = OLMOE_1B_7B;
  let seed = 1;
  const t: GgufTensorSpec[] = [blocks('token_embd.weight', [V, D], 'Q4_K', seed++)];
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}`;
    const big = moreBits(i, L) ? 'Q6_K' : 'Q4_K';
    t.push(
      blocks(`${b}.attn_norm.weight`, [D], 'F32', seed++),
      blocks(`${b}.attn_q.weight`, [D, D], 'Q4_K', seed++),
      blocks(`${b}.attn_k.weight`, [D, D], 'Q4_K', seed++),
      blocks(`${b}.attn_v.weight`, [D, D], big, seed++),
      blocks(`${b}.attn_output.weight`, [D, D], 'Q4_K', seed++),
      blocks(`${b}.attn_q_norm.weight`, [D], 'F32', seed++),
      blocks(`${b}.attn_k_norm.weight`, [D], 'F32', seed++),
      blocks(`${b}.ffn_norm.weight`, [D], 'F32', seed++),
      blocks(`${b}.ffn_gate_inp.weight`, [E, D], 'F32', seed++),
      blocks(`${b}.ffn_gate_exps.weight`, [E, I, D], 'Q4_K', seed++),
      blocks(`${b}.ffn_up_exps.weight`, [E, I, D], 'Q4_K', seed++),
      blocks(`${b}.ffn_down_exps.weight`, [E, D, I], big, seed++),
    );
  }
  t.push(blocks('output_norm.weight', [D], 'F32', seed++), blocks('output.weight', [V, D], 'Q6_K', seed++));
  return t;
}

function main(): void {
  const dir = arg('dir', '/tmp/i15-arch');
  const tokens = Number(arg('tokens', '256'));
  const budget = arg('max-memory', '3072');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'OLMoE-1B-7B-Q4_K_M-random.gguf');
  const t0 = performance.now();
  writeGguf(file, { 'general.architecture': 'olmoe', 'general.name': 'OLMoE-1B-7B (random Q4_K_M weights)', 'general.file_type': 15, ...archMetadata(OLMOE_1B_7B, 'olmoe'), ...byteVocabMetadata(OLMOE_1B_7B.vocab_size) }, olmoeTensors());
  const bytes = statSync(file).size;
  console.log(`${file}: ${(bytes / 2 ** 30).toFixed(2)} GiB written in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  try {
    const cli = builtCli();
    const ids = Array.from({ length: tokens }, (_, t) => (t * 7919 + 13) % OLMOE_1B_7B.vocab_size).join(',');
    const info = execFileSync(process.execPath, [cli, 'info', '--model', file, '--max-memory', budget], { encoding: 'utf8' });
    console.log(info.trim());
    const t1 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', 'PEAK_RSS_KB=%M', process.execPath, cli, 'trace', '--model', file, '--ids', ids, '--max-memory', budget, '--backend', 'wasm'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    const secs = (performance.now() - t1) / 1000;
    const peak = Number(/PEAK_RSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN) * 1024;
    if (r.status !== 0) {
      throw new Error(`trace failed (${r.status}): ${r.stderr}`);
    }
    const trace = JSON.parse(r.stdout) as { layers: unknown[]; tokens: unknown[] };
    console.log(`trace --max-memory ${budget}: ${trace.tokens.length} tokens × ${trace.layers.length} layers in ${secs.toFixed(0)} s; peak RSS ${(peak / 2 ** 30).toFixed(2)} GiB (${peak <= 3.5 * 2 ** 30 ? '≤' : 'OVER'} 3.5 GiB)`);
  } finally {
    if (!process.argv.includes('--keep')) {
      rmSync(file, { force: true });
    }
  }
}

main();
