/**
 * @file GGUF dequantisation speed, as a ratio to widening BF16 (what a safetensors checkpoint costs)
 * measured in the same run on the same number of values: for each block type, random valid blocks
 * (tools/gguf/quantize.ts) of `--mvalues` million values, best of `--runs`.
 *
 *   npx tsx bench/ggufDequant.ts            # --mvalues 16 --runs 3
 */
import { widen } from '../src/engine/checkpoint/dtypes';
import { dequantize } from '../src/engine/checkpoint/gguf/dequant/index';
import { blockGeometry, type BlockType } from '../src/engine/checkpoint/gguf/types';
import { randomBlocks, xorshift32 } from '../tools/gguf/quantize';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const values = Math.round(arg('mvalues', 16) * 1e6 / 256) * 256;
const runs = arg('runs', 3);

function best(fn: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

const next = xorshift32(1);
const bf16 = new Uint16Array(values);
for (let i = 0; i < values; i++) {
  bf16[i] = 0x3c00 | (next() & 0x83ff); // finite, around ±0.01
}
const out = new ArrayBuffer(values * 4);
const bf16Ms = best(() => {
  new Uint8Array(out).set(new Uint8Array(bf16.buffer));
  widen('BF16', out, values, true);
});

const types: BlockType[] = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'MXFP4'];
const rows: string[] = [];
for (const type of types) {
  const { blockSize, typeSize } = blockGeometry(type);
  const raw = randomBlocks(type, values / blockSize, next);
  const dst = new Float32Array(values);
  const ms = best(() => dequantize(type, raw, dst));
  rows.push(`| ${type} | ${((typeSize * 8) / blockSize).toFixed(2)} | ${ms.toFixed(0)} ms | ${((values / ms) * 1e-3).toFixed(0)} M/s | ${(ms / bf16Ms).toFixed(2)}× |`);
}
process.stdout.write(`${(values / 1e6).toFixed(1)} M values, best of ${runs}, Node ${process.version}; BF16 widen (safetensors path, with the NaN check): ${bf16Ms.toFixed(0)} ms (${((values / bf16Ms) * 1e-3).toFixed(0)} M/s)\n\n`);
process.stdout.write('| type | bits/value | dequantise | values/s | time vs BF16 widen |\n| --- | ---: | ---: | ---: | ---: |\n');
process.stdout.write(rows.join('\n') + '\n');
