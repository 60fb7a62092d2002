/**
 * @file bench/engineLag — does an analysis on every core slow the extension host? This process plays
 * the host: it forks dist/engine.js through the extension's own EngineClient (moeLens.engineThreads →
 * MOE_LENS_THREADS) and watches its own event loop with perf_hooks.monitorEventLoopDelay while the
 * engine analyses a document, once per thread count.
 *
 *   npx tsx bench/engineLag.ts                  # threads 1 and every core, README.md ×4 on the embedded model
 *   npx tsx bench/engineLag.ts --threads 2 --repeat 3
 *
 * Prints per run: analysis wall time and the host's event-loop delay p50 / p99 / max in ms (goal:
 * p99 under 50 ms while the engine uses both cores).
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EngineClient } from '../src/extension/engineClient';
import { builtCli } from '../test/helpers/builtCli';

const ROOT = path.resolve(__dirname, '..');

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  builtCli(); // rebuilds dist/ (engine.js with it) when stale
  const threadCounts = flag('--threads', `1,${os.availableParallelism()}`).split(',').map(Number);
  const repeats = Number(flag('--repeat', '1'));
  const text = readFileSync(path.join(ROOT, 'README.md'), 'utf8').repeat(Number(flag('--copies', '4')));
  for (let r = 0; r < repeats; r++) {
    for (const threads of threadCounts) {
      const engine = new EngineClient({ enginePath: path.join(ROOT, 'dist', 'engine.js'), memoryLimitMb: 0, requestTimeoutMs: 0, threads });
      try {
        await engine.loadModel({ path: null, backend: 'wasm' });
        const lag = monitorEventLoopDelay({ resolution: 5 });
        lag.enable();
        const t0 = performance.now();
        const { trace } = await engine.analyze({ path: null, backend: 'wasm' }, { text, windowSize: 0, windowOverlap: 0, specialTokensInText: 'text' });
        const ms = performance.now() - t0;
        lag.disable();
        const q = (p: number): string => (lag.percentile(p) / 1e6).toFixed(1);
        process.stdout.write(
          `threads ${threads}: ${trace.tokens.length} tokens in ${ms.toFixed(0)} ms; host event-loop delay p50 ${q(50)} ms, p99 ${q(99)} ms, max ${(lag.max / 1e6).toFixed(1)} ms; load ${os.loadavg()[0].toFixed(1)}\n`,
        );
      } finally {
        await engine.dispose();
      }
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(String(e instanceof Error ? (e.stack ?? e.message) : e) + '\n');
  process.exit(1);
});
