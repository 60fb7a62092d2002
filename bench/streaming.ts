/**
 * @file Resident vs streamed on a ~1 GB bf16 OLMoE-shaped checkpoint: peak RSS, load time and tokens/s
 * of one prefill, each mode in its own child process (so peak RSS is per mode): resident with every
 * layer kept widened (the default budget), resident holding bf16 only, and streamed at the plan's
 * minimum + 64 MB; and whether the three traces agree.
 *
 *   npx tsx bench/streaming.ts                       # writes bench/out/olmoe-1gb (reused), 256 tokens
 *   npx tsx bench/streaming.ts --tokens 128 --streamed-mb 700 --dir /tmp/olmoe-1gb
 *   npx tsx bench/streaming.ts --existing --dir /tmp/realshape/granite --streamed-mb 2048   # any model folder (tools/realshape)
 *   npx tsx bench/streaming.ts --existing --dir /tmp/realshape/olmoe --streamed-mb 3072 --modes streamed   # only the streamed run
 *
 * Each run's time is split (checkpoint/readTimings.ts): positioned reads (I/O, overlapping compute
 * where read ahead), the time the pass waited on them, widening/dequantising, and the rest: compute.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { readTimings, resetReadTimings, type ReadTimings } from '../src/engine/checkpoint/readTimings';
import { loadModel } from '../src/engine/model';
import { BENCH_OLMOE, writeOlmoeCheckpoint, type OlmoeShape } from './forwardCheckpoint';

/** hidden 1024, 8 layers, 16 experts top-2 of width 1024, vocabulary 32768: 0.49 B parameters, 0.98 GB bf16. */
export const ONE_GB_OLMOE: OlmoeShape = { ...BENCH_OLMOE, numLayers: 8, numExperts: 16, vocabSize: 32768, shards: 2, seed: 99 };

interface ChildResult {
  mode: string;
  plan: { mode: string; minimumBytes: number; holdBytes: number; storedBytes: number; cachedLayers: number };
  loadMs: number;
  runMs: number;
  tokens: number;
  peakRssMb: number;
  /** The run's (not the load's) time with the weights. */
  timings: ReadTimings;
  experts: number[][][];
  surprisal: (number | null)[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function child(): Promise<void> {
  const dir = arg('dir', '');
  const tokens = Number(arg('tokens', '256'));
  const budgetMb = Number(arg('budget-mb', '0'));
  const t0 = performance.now();
  const model = await loadModel(dir, { backend: 'wasm', ...(budgetMb > 0 ? { maxMemoryBytes: budgetMb * 2 ** 20 } : {}) });
  const t1 = performance.now();
  const ids = Array.from({ length: tokens }, (_, t) => (t * 7919 + 13) % model.info.vocabSize);
  resetReadTimings();
  const r = await model.run(ids);
  const t2 = performance.now();
  model.dispose();
  const out: ChildResult = {
    mode: arg('mode', ''),
    plan: model.plan,
    loadMs: t1 - t0,
    runMs: t2 - t1,
    tokens,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    timings: { ...readTimings },
    experts: r.layers.map((l) => l.experts ?? []),
    surprisal: r.surprisal,
  };
  process.stdout.write(JSON.stringify(out));
}

function main(): void {
  const dir = arg('dir', path.resolve(__dirname, 'out', 'olmoe-1gb'));
  const tokens = arg('tokens', '256');
  if (process.argv.includes('--existing')) {
    console.log(`${dir} (an existing checkpoint), ${tokens} tokens, wasm backend`);
  } else {
    const ckpt = writeOlmoeCheckpoint(dir, ONE_GB_OLMOE);
    console.log(`${dir}: ${(ckpt.bytes / 1e9).toFixed(2)} GB bf16${ckpt.reused ? ' (reused)' : ''}, ${tokens} tokens, wasm backend`);
  }
  const run = (mode: string, budgetMb: number): ChildResult =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child', '--dir', dir, '--tokens', tokens, '--budget-mb', String(budgetMb), '--mode', mode], {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      }),
    ) as ChildResult;
  // --modes streamed: only the streamed run (a model too big to hold resident on this machine); it then needs --streamed-mb.
  const modes = arg('modes', 'resident,held,streamed').split(',');
  const results: ChildResult[] = [];
  let minimumMb = Number(arg('streamed-mb', '0')) - 64;
  if (modes.includes('resident')) {
    const resident = run('resident (default budget)', 0);
    results.push(resident);
    minimumMb = Math.ceil(resident.plan.minimumBytes / 2 ** 20);
    if (modes.includes('held')) {
      const heldMb = Math.ceil((resident.plan.minimumBytes + resident.plan.storedBytes) / 2 ** 20) + 64;
      results.push(run(`resident, nothing cached widened (--max-memory ${heldMb})`, heldMb));
    }
  }
  if (modes.includes('streamed')) {
    const streamedMb = Number(arg('streamed-mb', String(minimumMb + 64)));
    results.push(run(`streamed (--max-memory ${streamedMb})`, streamedMb));
  }
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  for (const r of results) {
    const mb = (b: number): string => `${Math.round(b / 2 ** 20)} MB`;
    const t = r.timings;
    console.log(
      `${r.mode}: plan ${r.plan.mode} (hold ≈ ${mb(r.plan.holdBytes)}, minimum ${mb(r.plan.minimumBytes)}, ${r.plan.cachedLayers} layers cached widened); ` +
        `load ${s(r.loadMs)}, run ${s(r.runMs)} = ${(r.tokens / (r.runMs / 1000)).toFixed(1)} tokens/s, peak RSS ${Math.round(r.peakRssMb)} MB\n` +
        `  run split: waiting on reads ${s(t.waitMs)}, widening ${s(t.widenMs)}, compute ${s(r.runMs - t.waitMs - t.widenMs)}; ` +
        `positioned reads: ${(t.bytesRead / 1e9).toFixed(2)} GB, in flight ${s(t.readMs)} of the run (overlapping compute where read ahead)`,
    );
  }
  const key = (r: ChildResult): string => JSON.stringify([r.experts, r.surprisal]);
  if (results.length > 1) {
    console.log(`experts and surprisal identical: ${results.every((r) => key(r) === key(results[0])) ? 'yes' : 'NO'}`);
  }
}

if (process.argv.includes('--child')) {
  void child();
} else {
  main();
}
