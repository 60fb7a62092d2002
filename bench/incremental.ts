/**
 * @file bench/incremental — live re-analysis on the embedded model (models/demo, warm engine):
 *
 *   npx tsx bench/incremental.ts            # --runs 5 (median of), --backend wasm
 *
 * In one process, on the same weights: a full analysis of a 2,048-token document (three windows of
 * the model's 1,024-token context), then the same document after a one-token edit at its end
 * re-analysed incrementally (the engine's document cache: only the changed tail of the last window
 * runs) and after appending one token; the ratio incremental / full. Then a whole 2,000-token
 * analysis (tokenize, forward, trace: traceText) warm. Then causal attention at the embedded
 * model's shapes (T 1,024, 8 heads, 4 KV heads, hd 32): query blocks that skip the masked half
 * (attention.ts) against the whole [T, T] score matrix per head (ops.ts `attention`).
 * Prints the machine's load before and after: compare figures only within one run.
 */
import { cpus, loadavg } from 'node:os';
import { causalAttention } from '../src/engine/attention';
import { AnalysisCache } from '../src/engine/analysisCache';
import { traceIds, traceText } from '../src/engine/analyze';
import { tf, type BackendName } from '../src/engine/backend';
import { defaultModelDir, loadModel } from '../src/engine/model';
import { attention } from '../src/engine/ops';
import { loadTokenizer } from '../src/engine/tokenizer/tokenizer';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const RUNS = Number(flag('--runs', '5'));
const BACKEND = flag('--backend', 'wasm') as BackendName;

const PROSE =
  'Mixture-of-experts layers send each token to a few experts chosen by a router. The gate weight ' +
  'says how much each chosen expert contributes, and load balance says whether experts share the work. ' +
  'function route(x) { return topk(softmax(W * x), 2); } // the router, in one line\n';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall-clock ms, and this process's CPU ms (steadier than wall time on a shared machine; the engine is one thread). */
async function timeIt(f: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const [t0, c0] = [performance.now(), process.cpuUsage()];
  await f();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

function medians(xs: { wall: number; cpu: number }[]): { wall: number; cpu: number } {
  return { wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) };
}

function load(): string {
  return `load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min) on ${cpus().length} cores`;
}

async function main(): Promise<void> {
  console.log(`# bench/incremental — ${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  console.log(`before: ${load()}`);
  const dir = defaultModelDir();
  const tokenizer = await loadTokenizer(dir);
  const model = await loadModel(dir, { backend: BACKEND });
  const long = PROSE.repeat(80);
  const all = await tokenizer.encode(long);
  const ids = all.slice(0, 2048).map((t) => t.id);
  if (ids.length < 2048) {
    throw new Error(`the bench text gave only ${ids.length} tokens`);
  }
  const text2000 = long.slice(0, all[1999].end ?? undefined);

  // Warm: weights widened, kernels compiled.
  await traceIds(model, ids);
  const full: { wall: number; cpu: number }[] = [];
  const edit: typeof full = [];
  const append: typeof full = [];
  const store = new AnalysisCache();
  const cache = { store, key: 'bench' };
  await traceIds(model, ids, { cache });
  let current = ids;
  for (let r = 0; r < RUNS; r++) {
    full.push(await timeIt(() => traceIds(model, ids)));
    // One token changed at the end (typing over the last word), then one appended.
    const edited = [...current.slice(0, -1), (current[current.length - 1] + 1 + r) % 4000];
    edit.push(await timeIt(() => traceIds(model, edited, { cache })));
    const longer = [...edited, 42];
    append.push(await timeIt(() => traceIds(model, longer, { cache })));
    current = edited;
    await traceIds(model, current, { cache }); // back to 2,048 tokens for the next round
  }
  const windows = (await traceIds(model, ids)).windows ?? [];
  const [f, e, a] = [medians(full), medians(edit), medians(append)];
  console.log(`\n2,048-token document, ${windows.length} windows (${windows.map((w) => `${w.start}–${w.end}`).join(', ')}), ${model.backend}, median of ${RUNS}:`);
  console.log('| pass | wall ms | / full | CPU ms | / full |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(`| full analysis (no cache) | ${f.wall.toFixed(1)} | 1 | ${f.cpu.toFixed(1)} | 1 |`);
  console.log(`| incremental, last token changed | ${e.wall.toFixed(1)} | ${(e.wall / f.wall).toFixed(4)} | ${e.cpu.toFixed(1)} | ${(e.cpu / f.cpu).toFixed(4)} |`);
  console.log(`| incremental, one token appended | ${a.wall.toFixed(1)} | ${(a.wall / f.wall).toFixed(4)} | ${a.cpu.toFixed(1)} | ${(a.cpu / f.cpu).toFixed(4)} |`);
  console.log(`cache: ${(store.bytes / 2 ** 20).toFixed(1)} MB for this document`);
  store.clear();

  await traceText(model, tokenizer, text2000);
  const whole: { wall: number; cpu: number; tokenize: number; forward: number; tokens: number }[] = [];
  for (let r = 0; r < RUNS; r++) {
    let trace: Awaited<ReturnType<typeof traceText>> | undefined;
    const t = await timeIt(async () => (trace = await traceText(model, tokenizer, text2000)));
    whole.push({ ...t, tokenize: trace!.timing!.tokenizeMs, forward: trace!.timing!.forwardMs, tokens: trace!.tokens.length });
  }
  const mid = whole.sort((x, y) => x.wall - y.wall)[Math.floor(whole.length / 2)];
  console.log(
    `\nwhole analysis (traceText: tokenize + forward + trace) of ${mid.tokens} tokens, warm, median of ${RUNS}: ${mid.wall.toFixed(1)} ms wall, ${mid.cpu.toFixed(1)} ms CPU (tokenize ${mid.tokenize.toFixed(1)} ms, forward ${mid.forward.toFixed(1)} ms)`,
  );

  const [T, H, KV, hd] = [1024, 8, 4, 32];
  const q = tf.randomNormal([T, H, hd]) as tf.Tensor3D;
  const k = tf.randomNormal([T, KV, hd]) as tf.Tensor3D;
  const v = tf.randomNormal([T, KV, hd]) as tf.Tensor3D;
  const once = async (f: () => tf.Tensor): Promise<{ wall: number; cpu: number }> =>
    timeIt(async () => {
      const out = tf.tidy(f);
      await out.data();
      out.dispose();
    });
  const blocked = (): tf.Tensor => causalAttention(q, k, v, { scale: 1 / Math.sqrt(hd) });
  const whole2 = (): tf.Tensor => attention(q, k, v, { scale: 1 / Math.sqrt(hd) });
  await once(blocked);
  await once(whole2);
  const tb: { wall: number; cpu: number }[] = [];
  const tw: typeof tb = [];
  for (let r = 0; r < 3 * RUNS; r++) {
    tb.push(await once(blocked));
    tw.push(await once(whole2));
  }
  const [b, w] = [medians(tb), medians(tw)];
  console.log(
    `\ncausal attention T ${T}, H ${H}, KV ${KV}, hd ${hd}, median of ${3 * RUNS}: query blocks ${b.wall.toFixed(1)} ms wall / ${b.cpu.toFixed(1)} ms CPU, whole [T, T] ${w.wall.toFixed(1)} / ${w.cpu.toFixed(1)}; blocks / whole ${(b.wall / w.wall).toFixed(3)} wall, ${(b.cpu / w.cpu).toFixed(3)} CPU`,
  );
  tf.dispose([q, k, v]);
  model.dispose();
  tokenizer.dispose();
  console.log(`\nafter: ${load()}`);
}

void main();
