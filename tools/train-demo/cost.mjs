#!/usr/bin/env node
/* global process, console */
// Per-token cost of two demo-model editions, measured in the same run: `moe-lens analyze` (dist/cli.js) on
// the same file, alternating old and new, best of N each (the machine is shared, so the minimum is the
// least disturbed run). Also records each edition's mean surprisal on that file.
//   node tools/train-demo/cost.mjs OLD_MODEL_DIR NEW_MODEL_DIR FILE [REPEATS] [OUT.json]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [oldDir, newDir, file, repeats = '3', out] = process.argv.slice(2);
if (!oldDir || !newDir || !file) {
  console.error('usage: node tools/train-demo/cost.mjs OLD_MODEL_DIR NEW_MODEL_DIR FILE [REPEATS] [OUT.json]');
  process.exit(2);
}
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

function analyze(model) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, 'analyze', '--model', model, file], { encoding: 'utf8', maxBuffer: 1 << 28 }); // the per-token listing is long
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const m = /(\d+) tokens, mean surprisal ([\d.]+) nats/.exec(r.stdout);
  if (r.status !== 0 || !m) {
    throw new Error(`analyze --model ${model} failed (${r.status}): ${r.stderr.slice(-500)}`);
  }
  return { ms, tokens: Number(m[1]), surprisal: Number(m[2]) };
}

const runs = { old: [], new: [] };
for (let i = 0; i < Number(repeats); i++) {
  runs.old.push(analyze(oldDir));
  runs.new.push(analyze(newDir));
}
const best = (rs) => Math.min(...rs.map((r) => r.ms));
const tokens = runs.new[0].tokens;
const result = {
  file,
  tokens,
  repeats: Number(repeats),
  old_ms_per_token: best(runs.old) / tokens,
  new_ms_per_token: best(runs.new) / tokens,
  ratio: best(runs.new) / best(runs.old),
  old_surprisal: runs.old[0].surprisal,
  new_surprisal: runs.new[0].surprisal,
  runs,
};
console.log(JSON.stringify(result, null, 1));
if (out) writeFileSync(out, JSON.stringify(result, null, 1));
