/**
 * @file Real-shaped random checkpoints for tests and benchmarks (bench/README.md, "Real-shaped
 * checkpoints"): the config keys, tensor names, shapes, dtypes and sharding of a released MoE model,
 * random values, written outside the repository.
 *
 *   npx tsx tools/realshape/realshape.ts --list
 *   npx tsx tools/realshape/realshape.ts --model granite-3.1-1b-a400m --out /tmp/realshape/granite
 *   npx tsx tools/realshape/realshape.ts --model Qwen1.5-MoE-A2.7B --out /tmp/q --dry-run   # bytes per shard, nothing written
 *
 * Options: --seed N (default 1), --tokenizer demo (copies models/demo's tokenizer, whose ids are
 * valid in every one of these vocabularies; without it run the CLI with --ids), --layers N (only the
 * first N decoder layers, every tensor at its real shape: a quick end-to-end check), --force (write
 * into a non-empty folder).
 */
import { copyFileSync, existsSync, readdirSync, statfsSync } from 'node:fs';
import * as path from 'node:path';
import { firstLayers, MODELS } from './models';
import { planShards, writeCheckpoint } from './write';

const REPO = path.resolve(__dirname, '..', '..');
const GB = 1e9;

function usage(message: string): never {
  process.stderr.write(`realshape: ${message}\nusage: realshape --model NAME --out DIR [--seed N] [--layers N] [--tokenizer demo] [--dry-run] [--force] | --list\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      usage(`unexpected argument ${JSON.stringify(a)}`);
    }
    const key = a.slice(2);
    if (['list', 'dry-run', 'force'].includes(key)) {
      out[key] = true;
    } else if (['model', 'out', 'seed', 'tokenizer', 'layers'].includes(key) && i + 1 < argv.length) {
      out[key] = argv[++i];
    } else {
      usage(`unknown option or missing value: ${a}`);
    }
  }
  return out;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const [name, make] of Object.entries(MODELS)) {
      const spec = make();
      const shards = planShards(spec);
      const bytes = shards.reduce((s, x) => s + x.bytes, 0);
      process.stdout.write(`${name.padEnd(22)} ${spec.repo.padEnd(44)} ${(bytes / GB).toFixed(2)} GB in ${shards.length} file${shards.length === 1 ? '' : 's'}\n`);
    }
    return;
  }
  const name = typeof args.model === 'string' ? args.model : usage('--model is required (see --list)');
  const make = MODELS[name] ?? usage(`unknown model ${JSON.stringify(name)}; one of ${Object.keys(MODELS).join(', ')}`);
  const out = typeof args.out === 'string' ? path.resolve(args.out) : usage('--out DIR is required');
  const seed = args.seed === undefined ? 1 : Number(args.seed);
  if (!Number.isInteger(seed) || seed < 0) {
    usage('--seed must be a non-negative integer');
  }
  if (args.tokenizer !== undefined && args.tokenizer !== 'demo') {
    usage('--tokenizer takes only "demo"');
  }
  let spec = make();
  if (args.layers !== undefined) {
    try {
      spec = firstLayers(spec, Number(args.layers));
    } catch (e) {
      usage((e as Error).message);
    }
  }
  const shards = planShards(spec);
  const total = shards.reduce((s, x) => s + x.bytes, 0);
  // An MXFP4 block byte holds two parameters; its scales are not parameters.
  const params = spec.tensors.reduce((s, t) => s + (t.name.endsWith('_scales') ? 0 : t.shape.reduce((a, b) => a * b, 1) * (t.name.endsWith('_blocks') ? 2 : 1)), 0);
  process.stdout.write(`${spec.name} (${spec.repo}): ${(params / 1e9).toFixed(3)} B parameters, ${spec.tensors.length} tensors, ${(total / GB).toFixed(2)} GB\n`);
  for (const s of shards) {
    process.stdout.write(`  ${s.file}  ${s.tensors.length} tensors  ${s.bytes} bytes (${(s.bytes / GB).toFixed(2)} GB)\n`);
  }
  for (const u of spec.unconfirmed) {
    process.stdout.write(`  unconfirmed: ${u}\n`);
  }
  if (args['dry-run']) {
    return;
  }
  if (out === REPO || out.startsWith(REPO + path.sep)) {
    usage(`--out must be outside the repository (${REPO}): these checkpoints are gigabytes`);
  }
  if (existsSync(out) && readdirSync(out).length > 0 && !args.force) {
    usage(`${out} is not empty (--force to write into it)`);
  }
  const probe = existsSync(out) ? out : path.dirname(out);
  if (existsSync(probe)) {
    const fs = statfsSync(probe);
    const free = fs.bavail * fs.bsize;
    if (free < total * 1.02) {
      usage(`${(free / GB).toFixed(1)} GB free at ${probe}, ${(total / GB).toFixed(1)} GB needed`);
    }
  }
  const t0 = Date.now();
  writeCheckpoint(spec, out, {
    seed,
    onShard: (s, i, n, sec) => process.stdout.write(`  wrote ${s.file} (${i + 1}/${n}) in ${sec.toFixed(1)} s, ${(s.bytes / sec / 1e6).toFixed(0)} MB/s\n`),
  });
  if (args.tokenizer === 'demo') {
    copyFileSync(path.join(REPO, 'models', 'demo', 'tokenizer.json'), path.join(out, 'tokenizer.json'));
  }
  const sec = (Date.now() - t0) / 1000;
  process.stdout.write(`${out}: ${(total / GB).toFixed(2)} GB in ${sec.toFixed(1)} s (${(total / sec / 1e9 * 60).toFixed(1)} GB/min)\n`);
}

main();
