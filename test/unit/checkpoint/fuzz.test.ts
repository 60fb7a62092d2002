/**
 * @file Checkpoint fuzz suite: hundreds of damaged model folders, generated here, each of which must
 * be refused with one CheckpointError that names the file and the problem, within 1 s, without a
 * crash. Plus random byte mutations of a valid file, which must either load or fail cleanly.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckpointError, openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { readModelConfig } from '../../../src/engine/checkpoint/modelFolder';
import { fuzzCases, validFile, type FuzzCase } from './fuzzCases';

const PER_FILE_MS = 1000;
let root = '';
let slowest = { ms: 0, label: '' };

before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-fuzz-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
  process.stdout.write(`# slowest fuzz case: ${slowest.ms.toFixed(1)} ms (${slowest.label})\n`);
});

async function attempt(c: FuzzCase, dir: string): Promise<void> {
  if (c.entry === 'config') {
    await readModelConfig(dir);
    return;
  }
  const ck = await openCheckpoint(dir);
  try {
    if (c.entry === 'read') {
      for (const name of ck.names()) {
        await ck.readFloat32(name, { checkFinite: true });
      }
    }
  } finally {
    await ck.close();
  }
}

/** Runs one case; returns a description of what went wrong, or null when it failed as it should. */
async function check(c: FuzzCase, index: number): Promise<string | null> {
  const dir = path.join(root, `case-${index}`);
  mkdirSync(dir);
  c.make(dir);
  const t0 = performance.now();
  let error: unknown = null;
  try {
    await attempt(c, dir);
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  if (ms > slowest.ms) {
    slowest = { ms, label: `${c.kind}: ${c.label}` };
  }
  const where = `[${c.kind}: ${c.label}]`;
  if (error === null) {
    return `${where} was accepted`;
  }
  if (!(error instanceof CheckpointError)) {
    return `${where} threw ${String(error)} instead of a CheckpointError`;
  }
  const msg = error.message;
  const mustName = c.names === '' ? dir : c.names;
  if (!msg.includes(mustName)) {
    return `${where} message does not name ${mustName}: ${msg}`;
  }
  if (!c.says.test(msg)) {
    return `${where} message does not match ${String(c.says)}: ${msg}`;
  }
  if (/\n/.test(msg)) {
    return `${where} message is more than one line: ${msg}`;
  }
  if (ms > PER_FILE_MS) {
    return `${where} took ${ms.toFixed(0)} ms`;
  }
  return null;
}

const cases = fuzzCases();
const kinds = [...new Set(cases.map((c) => c.kind))];

describe('checkpoint fuzz: damaged files', () => {
  test(`covers ≥ 300 files over ≥ 25 kinds of damage (${cases.length} files, ${kinds.length} kinds)`, () => {
    assert.ok(cases.length >= 300, `${cases.length} cases`);
    assert.ok(kinds.length >= 25, `${kinds.length} kinds`);
  });

  let index = 0;
  for (const kind of kinds) {
    const group = cases.filter((c) => c.kind === kind);
    test(`${kind} (${group.length} files): one clear CheckpointError each, < 1 s`, async () => {
      const problems: string[] = [];
      for (const c of group) {
        const p = await check(c, index++);
        if (p) {
          problems.push(p);
        }
      }
      assert.deepEqual(problems, []);
    });
  }
});

describe('checkpoint fuzz: random mutations of a valid file', () => {
  // A deterministic PRNG so a failure reproduces.
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };

  test('300 random byte edits, insertions and deletions: each loads or fails with a CheckpointError in < 1 s', async () => {
    const valid = validFile();
    const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const buf = Buffer.from(valid);
      let bytes: Buffer = buf;
      const op = rand(3);
      // Mostly damage the header: data bytes are legitimately arbitrary.
      const at = rand(headerEnd);
      if (op === 0) {
        bytes[at] = rand(256);
      } else if (op === 1) {
        bytes = Buffer.concat([buf.subarray(0, at), Buffer.from([rand(256)]), buf.subarray(at)]);
      } else {
        bytes = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + rand(4))]);
      }
      const dir = path.join(root, `random-${i}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'model.safetensors'), bytes);
      const t0 = performance.now();
      try {
        const ck = await openCheckpoint(dir);
        for (const n of ck.names()) {
          const v = await ck.readFloat32(n);
          assert.equal(v.length, ck.info(n).shape.reduce((a, b) => a * b, 1));
        }
        await ck.close();
      } catch (e) {
        assert.ok(e instanceof CheckpointError, `mutation ${i} (op ${op} at ${at}) threw ${String(e)}`);
        assert.ok(e.message.includes('model.safetensors'), e.message);
        rejected++;
      }
      assert.ok(performance.now() - t0 < PER_FILE_MS, `mutation ${i} too slow`);
    }
    // Most header damage must be caught (some edits, e.g. inside a tensor name or metadata padding, are harmless).
    assert.ok(rejected > 200, `only ${rejected} of 300 mutations were rejected`);
  });
});
