/**
 * @file bench/kernels — the engine's GEMM kernel (src/engine/kernels/) against stock tfjs-wasm 4.22's
 * matMul (XNNPACK, one thread), in one process, interleaved, best of --reps, on the shapes the
 * forward pass runs: the issue's reference 2048×1024·1024×1024, an OLMoE-bench expert (gate|up),
 * attention scores and probabilities·v of one head and query block, the LM head, and the embedded
 * model's expert. Ours runs on one thread and split over --threads (a KernelPool, as the engine does).
 *
 *   npx tsx bench/kernels.ts            # --reps 5 --threads 2
 */
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { PANEL, packedFloats } from '../src/engine/kernels/gemmModule';
import { gemmModule, instantiateGemm, kernelsUseFma } from '../src/engine/kernels/kernelModule';
import { KernelPool } from '../src/engine/kernels/kernelPool';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const REPS = arg('--reps', 5);
const THREADS = arg('--threads', 2);

const SHAPES: { what: string; m: number; k: number; n: number }[] = [
  { what: 'reference (issue 13)', m: 2048, k: 1024, n: 1024 },
  { what: 'OLMoE-bench expert gate|up', m: 512, k: 1024, n: 2048 },
  { what: 'attention q·kᵀ, one head and block', m: 256, k: 64, n: 2048 },
  { what: 'attention p·v, one head and block', m: 256, k: 2048, n: 64 },
  { what: 'LM head slice', m: 2048, k: 1024, n: 8192 },
  { what: 'embedded model expert gate|up', m: 475, k: 256, n: 256 },
];

function best(fn: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

async function main(): Promise<void> {
  wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false); // stock: one thread
  await tf.setBackend('wasm');
  const fma = kernelsUseFma();
  const memory = new WebAssembly.Memory({ initial: 4096, maximum: 65536, shared: true });
  const module = gemmModule(true);
  const gemm = instantiateGemm(module, memory);
  const pool = THREADS > 1 ? new KernelPool(memory, module, THREADS) : null;
  console.log(`# bench/kernels — ${new Date().toISOString()}, ${cpus()[0]?.model ?? '?'} × ${cpus().length}, Node ${process.version}, load ${loadavg()[0].toFixed(2)}`);
  console.log(`ours: ${fma ? 'relaxed-SIMD FMA' : 'SIMD multiply + add'}, ${THREADS} thread(s) sharing chunks as the engine does; tfjs: stock 4.22 wasm SIMD matMul (XNNPACK), one thread; best of ${REPS}\n`);
  console.log('| shape | m×k×n | tfjs 1 thr GFLOP/s | ours 1 thr | ours ' + THREADS + ' thr | ours 1 thr / tfjs | ours ' + THREADS + ' thr / tfjs |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const { what, m, k, n } of SHAPES) {
    const n8 = Math.ceil(n / PANEL) * PANEL;
    const A = 1024;
    const B = A + m * k * 4;
    const Bp = B + k * n * 4;
    const C = Bp + packedFloats(k, n) * 4;
    const f = new Float32Array(memory.buffer);
    for (let i = 0; i < m * k; i++) {
      f[A / 4 + i] = Math.sin(i);
    }
    for (let i = 0; i < k * n; i++) {
      f[B / 4 + i] = Math.cos(i);
    }
    gemm.pack(B, n * 4, k, n, Bp);
    const a = tf.tensor2d(f.slice(A / 4, A / 4 + m * k), [m, k]);
    const b = tf.tensor2d(f.slice(B / 4, B / 4 + k * n), [k, n]);
    tf.matMul(a, b).dispose(); // XNNPACK packs b on first use; we packed above
    const one = (): void => gemm.gemm(A, k * 4, Bp, C, n8 * 4, m, k, n8, 0, n8 / PANEL);
    const split = (): void => {
      if (!pool) {
        return one();
      }
      pool.shareGemm(gemm, A, k * 4, Bp, C, n8 * 4, m, k, n8); // as the engine splits it
    };
    const stock = (): void => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    };
    // The split must compute what one thread does, bit for bit, or its time means nothing.
    one();
    const want = new Float32Array(memory.buffer, C, m * n8).slice();
    new Float32Array(memory.buffer, C, m * n8).fill(NaN);
    split();
    if (new Float32Array(memory.buffer, C, m * n8).some((x, i) => !Object.is(x, want[i]))) {
      throw new Error(`${what}: ${THREADS} threads did not give one thread's result`);
    }
    const times = { tfjs: Infinity, one: Infinity, split: Infinity };
    for (let round = 0; round < 2; round++) {
      times.tfjs = Math.min(times.tfjs, best(stock));
      times.one = Math.min(times.one, best(one));
      times.split = Math.min(times.split, best(split));
    }
    const g = (ms: number): number => (2 * m * k * n) / ms / 1e6;
    console.log(`| ${what} | ${m}×${k}×${n} | ${g(times.tfjs).toFixed(1)} | ${g(times.one).toFixed(1)} | ${g(times.split).toFixed(1)} | ${(times.tfjs / times.one).toFixed(2)} | ${(times.tfjs / times.split).toFixed(2)} |`);
    tf.dispose([a, b]);
  }
  pool?.dispose();
  process.exit(0);
}

void main();
