/**
 * @file bench/forwardCompare — the end-to-end prefill figure against what users would
 * otherwise run, every figure measured in the same run:
 *
 *   npx tsx bench/forwardCompare.ts                       # 2,048 tokens, threads 1 and every core, 3 repeats
 *   npx tsx bench/forwardCompare.ts --tokens 512 --repeat 1 --threads 2
 *   npx tsx bench/forwardCompare.ts --cli /tmp/snapshot/dist/cli.js          # a copy of dist/ (the .wasm files beside it)
 *
 * Per repeat: one cold `node dist/cli.js trace --model DIR --ids <T ids> --threads N > /dev/null`
 * process per thread count (wall time, so loading is included); stock tfjs-wasm's matMul
 * 2048×1024·1024×1024 on one thread (bench/forwardWasmThreads.ts --threads 1); numpy/OpenBLAS sgemm
 * of the same shape on every core; and the same forward in PyTorch on CPU (bench/forwardTorch.py,
 * Debian's /usr/bin/python3 with python3-torch, the same safetensors files, torch.set_num_threads
 * and OMP/OpenBLAS threads set to the same count). Prints rates in GFLOP/s (the forward's useful
 * FLOPs from bench/forward.ts's forwardFlops: 240.7 G for 2,048 tokens) and the ratios, then the
 * spread over the repeats, and writes bench/out/forward-compare.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtCli } from '../test/helpers/builtCli';
import { forwardFlops } from './forward';
import { BENCH_OLMOE, writeOlmoeCheckpoint } from './forwardCheckpoint';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3';

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** Seeded ids in the vocabulary (the figure does not depend on which). */
function benchIds(T: number, V: number): number[] {
  let s = 12345;
  return Array.from({ length: T }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % V;
  });
}

/** Environment for a child that must use exactly `threads` threads in its BLAS/OpenMP pools. */
function blasEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, stdout: 'pipe' | 'ignore' = 'pipe'): { seconds: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', stdout, 'pipe'], maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed (${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { seconds, out: r.stdout ?? '' };
}

const lastJson = (text: string): Record<string, unknown> => JSON.parse(text.trim().split('\n').pop() as string) as Record<string, unknown>;

function numpySgemmGflops(threads: number): number {
  const code = [
    'import numpy as np, time',
    'a = np.random.rand(2048, 1024).astype(np.float32); b = np.random.rand(1024, 1024).astype(np.float32)',
    'a @ b',
    'best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(10))',
    'print(2 * 2048 * 1024 * 1024 / best / 1e9)',
  ].join('\n');
  return Number(run(PYTHON, ['-c', code], blasEnv(threads)).out.trim());
}

interface Repeat {
  load: number[];
  oursSeconds: Record<number, number>;
  tfjsMatmulGflops: number;
  numpyGflops: number;
  torchSeconds: Record<number, number>;
}

function main(): void {
  const T = Number(flag('--tokens', '2048'));
  const repeats = Number(flag('--repeat', '3'));
  const cores = os.availableParallelism();
  const threadCounts = flag('--threads', `1,${cores}`).split(',').map(Number);
  const top = Math.max(...threadCounts);
  mkdirSync(OUT, { recursive: true });
  const dir = path.join(OUT, 'olmoe-bench');
  writeOlmoeCheckpoint(dir, BENCH_OLMOE);
  const ids = benchIds(T, BENCH_OLMOE.vocabSize);
  const idsFile = path.join(OUT, `forward-compare-ids-${T}.txt`);
  writeFileSync(idsFile, ids.join(','));
  const cli = flag('--cli', '') || builtCli(); // --cli: a copy of dist/cli.js, so a rebuild during the run changes nothing
  const gflop = Object.values(forwardFlops(BENCH_OLMOE, T)).reduce((a, b) => a + b, 0) / 1e9;
  const results: Repeat[] = [];
  for (let r = 0; r < repeats; r++) {
    const rep: Repeat = { load: [os.loadavg()[0]], oursSeconds: {}, tfjsMatmulGflops: 0, numpyGflops: 0, torchSeconds: {} };
    for (const n of threadCounts) {
      // One cold process, stdout to /dev/null, as the issue measures it.
      rep.oursSeconds[n] = run(process.execPath, [cli, 'trace', '--model', dir, '--ids', ids.join(','), '--threads', String(n)], process.env, 'ignore').seconds;
    }
    rep.tfjsMatmulGflops = Number(lastJson(run(process.execPath, ['--import', 'tsx', path.join(__dirname, 'forwardWasmThreads.ts'), '--threads', '1', '--reps', '5']).out).gflops);
    rep.numpyGflops = numpySgemmGflops(top);
    for (const n of threadCounts) {
      rep.torchSeconds[n] = Number(lastJson(run(PYTHON, [path.join(__dirname, 'forwardTorch.py'), dir, idsFile, String(n)], blasEnv(n)).out).seconds);
    }
    rep.load.push(os.loadavg()[0]);
    results.push(rep);
    const line = threadCounts
      .map((n) => {
        const ours = gflop / rep.oursSeconds[n];
        return `threads ${n}: ours ${rep.oursSeconds[n].toFixed(2)} s = ${ours.toFixed(1)} GFLOP/s; ours/PyTorch ${(rep.torchSeconds[n] / rep.oursSeconds[n]).toFixed(2)} (torch ${rep.torchSeconds[n].toFixed(2)} s); ours/tfjs-matMul-1-thread ${(ours / rep.tfjsMatmulGflops).toFixed(2)}; ours/numpy-sgemm-${top}-threads ${(ours / rep.numpyGflops).toFixed(3)}`;
      })
      .join('\n  ');
    process.stdout.write(`repeat ${r + 1}: tfjs matMul 1 thread ${rep.tfjsMatmulGflops.toFixed(1)} GFLOP/s, numpy sgemm ${top} threads ${rep.numpyGflops.toFixed(1)} GFLOP/s, load ${rep.load.map((l) => l.toFixed(1)).join(' → ')}\n  ${line}\n`);
  }
  const spread = (f: (r: Repeat) => number): string => {
    const v = results.map(f);
    return `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
  };
  process.stdout.write(`\n${T} tokens, ${gflop.toFixed(1)} GFLOP, ${repeats} repeats, ${os.cpus()[0]?.model ?? '?'} × ${cores}, Node ${process.version}:\n`);
  for (const n of threadCounts) {
    process.stdout.write(
      `threads ${n}: ours ${spread((r) => gflop / r.oursSeconds[n])} GFLOP/s; ours/PyTorch ${spread((r) => r.torchSeconds[n] / r.oursSeconds[n])}; ours/tfjs matMul (1 thread) ${spread((r) => gflop / r.oursSeconds[n] / r.tfjsMatmulGflops)}; ours/numpy sgemm ${spread((r) => gflop / r.oursSeconds[n] / r.numpyGflops)}\n`,
    );
  }
  writeFileSync(path.join(OUT, 'forward-compare.json'), JSON.stringify({ date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores, tokens: T, gflop, results }, null, 2));
}

main();
