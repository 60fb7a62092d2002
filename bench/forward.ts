/**
 * @file bench/forward — prefill throughput of the engine on an OLMoE-shaped checkpoint.
 *
 *   npx tsx bench/forward.ts                    # wasm (2,048 tokens), wasm+threads, cpu (256 tokens), node if installed
 *   npx tsx bench/forward.ts --tokens 512 --backends wasm --cpu-tokens 64 --wasm-threads 0
 *
 * Generates bench/out/olmoe-bench (bf16, 3 shards + index; hidden 1024, 4 layers, 8 experts top-2,
 * expert width 1024, vocab 8192; reused on reruns), then runs each backend in its own child process
 * (so peak RSS is per backend) through the engine's own loadModel/run. A timing hook around the
 * BatchMatMul / _FusedMatMul kernels classifies every matmul (expert, attention projection,
 * attention scores, router, LM head) and records its shape; numpy (Debian's /usr/bin/python3,
 * OpenBLAS, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset) then times exactly those matmuls in the same
 * run, for the ratio. A benchmark, not a test: it prints a table and writes bench/out/forward.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendThreads, tf } from '../src/engine/backend';
import { HEAD_ROWS } from '../src/engine/head';
import { loadModel } from '../src/engine/model';
import { BENCH_OLMOE, olmoeParams, writeOlmoeCheckpoint, type OlmoeShape } from './forwardCheckpoint';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'bench', 'out');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ------------------------------------------------------------------------------------------------
// FLOP accounting
// ------------------------------------------------------------------------------------------------

/** Useful FLOPs of one prefill of T tokens (multiply-add = 2), per part of the model. */
export function forwardFlops(s: OlmoeShape, T: number): Record<string, number> {
  const D = s.hiddenSize;
  const hd = D / s.numHeads;
  const q = s.numHeads * hd;
  const kv = s.numKvHeads * hd;
  const L = s.numLayers;
  return {
    attnProj: L * 2 * T * D * (q + 2 * kv + q),
    // Causal: query t attends to t+1 keys; q·kᵀ and p·v each cost 2·hd per (query, key) pair per head.
    attnScores: L * 2 * 2 * s.numHeads * hd * ((T * (T + 1)) / 2),
    router: L * 2 * T * D * s.numExperts,
    experts: L * T * s.topK * 2 * (D * 2 * s.intermediateSize + s.intermediateSize * D),
    lmHead: 2 * T * D * s.vocabSize,
  };
}

// ------------------------------------------------------------------------------------------------
// Child: one backend, one process
// ------------------------------------------------------------------------------------------------

type MatmulClass = 'experts' | 'attnProj' | 'attnScores' | 'router' | 'lmHead' | 'other';

interface ShapeKey {
  b: number;
  m: number;
  k: number;
  n: number;
  ta: boolean;
  tb: boolean;
}

interface ChildResult {
  label: string;
  backend: string;
  tokens: number;
  threads: number | null;
  loadMs: number;
  forwardMs: number;
  matmulMs: Record<MatmulClass, number>;
  matmulFlops: number;
  shapes: (ShapeKey & { count: number; cls: MatmulClass })[];
  peakRssMiB: number;
  tfMemory: { numTensors: number; numBytes: number };
  expertLoad: number[];
  /** 1-minute load average before and after the timed forward (the machine is shared). */
  loadAvg: [number, number];
  error?: string;
}

async function child(): Promise<void> {
  const dir = flag('--model')!;
  const backendPref = flag('--backend') as 'wasm' | 'cpu' | 'node';
  const T = Number(flag('--tokens'));
  const threads = Number(flag('--threads') ?? '0');
  const label = flag('--label') ?? backendPref;
  const shape = JSON.parse(flag('--shape')!) as OlmoeShape;
  const t0 = performance.now();
  // The engine's own threads (src/engine/kernels/wasmThreads.ts); 0 here means one thread.
  const model = await loadModel(dir, { backend: backendPref, threads: Math.max(1, threads) });
  if (backendPref === 'wasm' && backendThreads() !== Math.max(1, threads)) {
    throw new Error(`wasm started with ${backendThreads()} threads, not ${threads}`);
  }
  const loadMs = performance.now() - t0;
  const backendName = tf.getBackend();

  // Timing hook: re-register the matmul kernels with a wrapper (kernels run synchronously on
  // wasm, cpu and tfjs-node, so wall time around the call is the kernel's time).
  let currentT = T;
  const ms: Record<MatmulClass, number> = { experts: 0, attnProj: 0, attnScores: 0, router: 0, lmHead: 0, other: 0 };
  let flops = 0;
  const shapes = new Map<string, ShapeKey & { count: number; cls: MatmulClass }>();
  const headDim = shape.hiddenSize / shape.numHeads;
  const classify = (b: number, m: number, k: number, n: number): MatmulClass => {
    // Attention scores: batched [H, T, hd]·[H, hd, T], or per head q·kᵀ (k = hd) and p·v (n = hd).
    if (b > 1 || k === headDim || n === headDim) {
      return 'attnScores';
    }
    if (n === shape.vocabSize || (n === Math.min(HEAD_ROWS, shape.vocabSize) && k === shape.hiddenSize && m === currentT)) {
      return 'lmHead'; // by vocabulary slices of HEAD_ROWS
    }
    if (n === shape.numExperts) {
      return 'router';
    }
    if (k === shape.hiddenSize && n === 2 * shape.intermediateSize) {
      return 'experts'; // fused gate|up
    }
    if (m === currentT) {
      return 'attnProj';
    }
    if (k === shape.intermediateSize && n === shape.hiddenSize) {
      return 'experts'; // down, on the tokens routed to one expert
    }
    return 'other';
  };
  for (const kname of ['BatchMatMul', '_FusedMatMul']) {
    const cfg = tf.getKernel(kname, backendName);
    if (!cfg) {
      continue;
    }
    tf.unregisterKernel(kname, backendName);
    tf.registerKernel({
      ...cfg,
      kernelFunc: (args: Parameters<typeof cfg.kernelFunc>[0]) => {
        const start = performance.now();
        const out = cfg.kernelFunc(args);
        const el = performance.now() - start;
        const a = args.inputs.a as unknown as { shape: number[] };
        const bT = args.inputs.b as unknown as { shape: number[] };
        const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
        const ta = !!attrs.transposeA;
        const tb = !!attrs.transposeB;
        const as = a.shape;
        const bs = bT.shape;
        const batch = as.length === 3 ? as[0] : 1;
        const m = ta ? as[as.length - 1] : as[as.length - 2];
        const k = ta ? as[as.length - 2] : as[as.length - 1];
        const n = tb ? bs[bs.length - 2] : bs[bs.length - 1];
        const cls = classify(batch, m, k, n);
        ms[cls] += el;
        flops += 2 * batch * m * k * n;
        const key = `${batch},${m},${k},${n},${ta},${tb}`;
        const row = shapes.get(key) ?? { b: batch, m, k, n, ta, tb, count: 0, cls };
        row.count++;
        shapes.set(key, row);
        return out;
      },
    });
  }

  const rand = (n: number) => Array.from({ length: n }, (_, i) => (i * 2654435761) % shape.vocabSize);
  // Warm-up (kernel set-up, first allocations), then reset the counters.
  currentT = 32;
  await model.run(rand(32));
  for (const c of Object.keys(ms) as MatmulClass[]) {
    ms[c] = 0;
  }
  flops = 0;
  shapes.clear();
  currentT = T;
  const ids = rand(T);
  const load0 = os.loadavg()[0];
  const f0 = performance.now();
  const result = await model.run(ids);
  const forwardMs = performance.now() - f0;
  const expertLoad = new Array<number>(shape.numExperts).fill(0);
  for (const layer of result.layers) {
    for (const row of layer.experts ?? []) {
      for (const e of row) {
        expertLoad[e]++;
      }
    }
  }
  const mem = tf.memory();
  const out: ChildResult = {
    label,
    backend: model.backend,
    tokens: T,
    threads: threads > 1 ? threads : null,
    loadMs,
    forwardMs,
    matmulMs: ms,
    matmulFlops: flops,
    shapes: [...shapes.values()],
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    tfMemory: { numTensors: mem.numTensors, numBytes: mem.numBytes },
    expertLoad,
    loadAvg: [load0, os.loadavg()[0]],
  };
  model.dispose();
  process.stdout.write('RESULT ' + JSON.stringify(out) + '\n');
  process.exit(0); // wasm pthread workers would keep the process alive
}

// ------------------------------------------------------------------------------------------------
// Driver
// ------------------------------------------------------------------------------------------------

interface NumpyResult {
  numpy: string;
  seconds: number;
  gflops: number;
  openblas_env: Record<string, string>;
}

function runChild(args: string[], label: string): ChildResult {
  process.stderr.write(`[bench] ${label}: running…\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 30 * 60 * 1000 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) {
    const why = ((r.stderr ?? '') + (r.stdout ?? '')).trim().split('\n').slice(-3).join(' | ');
    return { label, error: why || `exit ${r.status}` } as ChildResult;
  }
  return JSON.parse(line.slice(7)) as ChildResult;
}

function numpyFor(shapes: ChildResult['shapes'], threads: number | null): NumpyResult | { error: string } {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (threads !== null) {
    env.OPENBLAS_NUM_THREADS = String(threads);
  }
  const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'bench', 'forwardNumpy.py')], {
    input: JSON.stringify({ shapes, reps: 3 }),
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (r.status !== 0) {
    return { error: (r.stderr || `exit ${r.status}`).trim().split('\n').slice(-1)[0] };
  }
  return JSON.parse(r.stdout) as NumpyResult;
}

function nodeBackendAvailable(): string | null {
  try {
    require.resolve('@tensorflow/tfjs-node');
  } catch {
    return 'not installed (optional dependency; its install downloads libtensorflow, which fails here)';
  }
  const r = spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? null : `does not load: ${(r.stderr || '').trim().split('\n')[0]}`;
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

async function driver(): Promise<void> {
  const T = Number(flag('--tokens') ?? '2048');
  const cpuT = Number(flag('--cpu-tokens') ?? '256');
  const wasmThreads = Number(flag('--wasm-threads') ?? '2');
  const backends = (flag('--backends') ?? 'wasm,cpu,node').split(',');
  const shape = BENCH_OLMOE;
  mkdirSync(OUT, { recursive: true });
  const dir = path.join(OUT, 'olmoe-bench');
  const g0 = performance.now();
  const gen = writeOlmoeCheckpoint(dir, shape);
  process.stderr.write(`[bench] checkpoint ${dir}: ${(gen.bytes / 2 ** 20).toFixed(0)} MiB bf16, ${gen.reused ? 'reused' : `written in ${((performance.now() - g0) / 1000).toFixed(1)} s`}\n`);

  const common = ['--model', dir, '--shape', JSON.stringify(shape)];
  const runs: ChildResult[] = [];
  const notes: string[] = [];
  if (backends.includes('wasm')) {
    runs.push(runChild([...common, '--backend', 'wasm', '--tokens', String(T), '--label', 'wasm (SIMD, 1 thread)'], 'wasm'));
    if (wasmThreads > 1) {
      runs.push(runChild([...common, '--backend', 'wasm', '--tokens', String(T), '--threads', String(wasmThreads), '--label', `wasm (SIMD, ${wasmThreads} threads)`], `wasm ${wasmThreads} threads`));
    }
  }
  if (backends.includes('cpu')) {
    runs.push(runChild([...common, '--backend', 'cpu', '--tokens', String(cpuT), '--label', `cpu (${cpuT} tokens)`], 'cpu'));
  }
  if (backends.includes('node')) {
    const why = nodeBackendAvailable();
    if (why) {
      notes.push(`node (tfjs-node): ${why}.`);
    } else {
      runs.push(runChild([...common, '--backend', 'node', '--tokens', String(T), '--label', 'node (tfjs-node)'], 'node'));
    }
  }

  const rows: string[] = [
    '| backend | tokens | tokens/s | effective GFLOP/s | matmul GFLOP/s | peak RSS MiB | expert matmuls % of forward | all matmuls % | numpy sgemm same shapes (s, 2 thr / 1 thr) | forward ÷ numpy (2 thr) | matmuls ÷ numpy (2 thr / 1 thr) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const json: unknown[] = [];
  for (const r of runs) {
    if (r.error) {
      rows.push(`| ${r.label} | – | failed: ${r.error.replace(/\|/g, '/')} |||||||||`);
      json.push(r);
      continue;
    }
    const useful = Object.values(forwardFlops(shape, r.tokens)).reduce((a, b) => a + b, 0);
    const matmulTotal = Object.values(r.matmulMs).reduce((a, b) => a + b, 0);
    const np2 = numpyFor(r.shapes, null);
    const np1 = numpyFor(r.shapes, 1);
    const s2 = 'seconds' in np2 ? np2.seconds : NaN;
    const s1 = 'seconds' in np1 ? np1.seconds : NaN;
    rows.push(
      `| ${r.label} | ${r.tokens} | ${fmt(r.tokens / (r.forwardMs / 1000))} | ${fmt(useful / (r.forwardMs * 1e6), 2)} | ${fmt(r.matmulFlops / (matmulTotal * 1e6), 2)} | ${fmt(r.peakRssMiB, 0)} | ${fmt((100 * r.matmulMs.experts) / r.forwardMs)} | ${fmt((100 * matmulTotal) / r.forwardMs)} | ${fmt(s2, 2)} / ${fmt(s1, 2)} | ${fmt(r.forwardMs / 1000 / s2)}× | ${fmt(matmulTotal / 1000 / s2)}× / ${fmt(matmulTotal / 1000 / s1)}× |`,
    );
    json.push({ ...r, usefulFlops: useful, flopsByPart: forwardFlops(shape, r.tokens), numpy2: np2, numpy1: np1 });
  }
  const params = olmoeParams(shape);
  const lines = [
    `Model: OLMoE-shaped, hidden ${shape.hiddenSize}, ${shape.numLayers} layers, ${shape.numExperts} experts top-${shape.topK}, expert width ${shape.intermediateSize}, vocab ${shape.vocabSize}, ${shape.numHeads} heads; ${(params.total / 1e6).toFixed(1)} M parameters (${(params.active / 1e6).toFixed(1)} M active per token), bf16 in ${shape.shards} shards.`,
    `Useful FLOPs for ${T} tokens: ${(Object.values(forwardFlops(shape, T)).reduce((a, b) => a + b, 0) / 1e9).toFixed(1)} G (attention projections, causal scores, router, 2 active experts, LM head).`,
    '',
    ...rows,
    '',
    ...notes,
  ];
  const breakdown = runs
    .filter((r) => !r.error)
    .map((r) => `${r.label}: load ${fmt(r.loadMs / 1000)} s; forward ${fmt(r.forwardMs / 1000)} s; matmul ms ${Object.entries(r.matmulMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}; tokens per expert (all layers) ${r.expertLoad.join(' ')}; load average ${r.loadAvg.map((x) => x.toFixed(1)).join(' → ')} on ${os.cpus().length} cores`);
  const text = [...lines, '', ...breakdown].join('\n');
  process.stdout.write(text + '\n');
  writeFileSync(path.join(OUT, 'forward.json'), JSON.stringify({ date: new Date().toISOString(), shape, runs: json, notes }, null, 2));
  writeFileSync(path.join(OUT, 'forward.md'), text + '\n');
}

if (require.main !== module) {
  // imported for forwardFlops (bench/forwardCompare.ts): run nothing
} else if (process.argv.includes('--child')) {
  child().catch((e: unknown) => {
    process.stderr.write(String(e instanceof Error ? (e.stack ?? e.message) : e) + '\n');
    process.exit(1);
  });
} else {
  driver().catch((e: unknown) => {
    process.stderr.write(String(e instanceof Error ? (e.stack ?? e.message) : e) + '\n');
    process.exit(1);
  });
}
