/**
 * @file GGUF fuzz suite: hundreds of malformed files made from one valid file (fuzzCases.ts), each
 * of which must be refused with one CheckpointError that names the file and says what is wrong
 * (matching the case's expected message), without a crash or a hang; then random byte damage to the
 * header of the valid file, which must either open (and read) or fail with a CheckpointError.
 */
import assert from 'node:assert/strict';
import { promises as fsp, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { CheckpointError } from '../../../../src/engine/checkpoint/checkpoint';
import { openGgufCheckpoint } from '../../../../src/engine/checkpoint/gguf/open';
import { readGgufMetadata } from '../../../../src/engine/checkpoint/gguf/reader';
import { xorshift32 } from '../../../../tools/gguf/quantize';
import { fuzzCases, validBase, type FuzzCase } from './fuzzCases';

const root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-gguf-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Opens the file and, when `read`, reads every tensor checking for NaN/Inf. */
async function attempt(file: string, read: boolean): Promise<void> {
  const ck = await openGgufCheckpoint(file);
  try {
    if (read) {
      for (const name of ck.names()) {
        await ck.readFloat32(name, { checkFinite: true });
      }
    }
  } finally {
    await ck.close();
  }
}

async function outcome(c: FuzzCase, index: number): Promise<string | null> {
  const file = path.join(root, `case-${index}.gguf`);
  writeFileSync(file, c.bytes);
  const where = `[${c.kind}: ${c.label}]`;
  try {
    await attempt(file, c.read ?? false);
  } catch (e) {
    rmSync(file);
    if (!(e instanceof CheckpointError)) {
      return `${where} threw ${(e as Error)?.constructor?.name}: ${String((e as Error)?.message ?? e)}`;
    }
    if (!e.message.startsWith(file)) {
      return `${where} message does not name the file: ${e.message}`;
    }
    if (!c.error.test(e.message)) {
      return `${where} unexpected message: ${e.message} (expected ${c.error})`;
    }
    if (e.message.includes('\n')) {
      return `${where} message has several lines: ${e.message}`;
    }
    return null;
  }
  rmSync(file);
  return `${where} was accepted`;
}

describe('GGUF fuzz suite', () => {
  test('the valid base opens and every tensor reads', async () => {
    const file = path.join(root, 'valid.gguf');
    writeFileSync(file, validBase().bytes);
    await attempt(file, true);
  });

  test('at least 200 malformed files, each refused with one clear CheckpointError', async () => {
    const cases = fuzzCases();
    assert.ok(cases.length >= 200, `only ${cases.length} cases`);
    const problems: string[] = [];
    for (const [i, c] of cases.entries()) {
      const p = await outcome(c, i);
      if (p) {
        problems.push(p);
      }
    }
    assert.deepEqual(problems, [], `${problems.length} of ${cases.length} cases misbehaved`);
    process.stdout.write(`# ${cases.length} malformed GGUF files refused\n`);
  });

  test('the metadata-only read (arrays stepped over) refuses damage to the metadata with the same error', async () => {
    const metadataKinds = new Set(['magic', 'version', 'tensor count', 'key count', 'key length', 'value type', 'string length', 'array count', 'array item type', 'bool', 'key']);
    const problems: string[] = [];
    let checked = 0;
    for (const c of fuzzCases()) {
      const file = path.join(root, 'meta.gguf');
      writeFileSync(file, c.bytes);
      const fh = await fsp.open(file, 'r');
      try {
        await readGgufMetadata(fh, file, c.bytes.length);
        if (metadataKinds.has(c.kind) && !/one (more|fewer) than listed/.test(c.label)) {
          problems.push(`[${c.kind}: ${c.label}] accepted`);
        }
      } catch (e) {
        if (!(e instanceof CheckpointError)) {
          problems.push(`[${c.kind}: ${c.label}] threw ${String(e)}`);
        } else if (metadataKinds.has(c.kind) && !/one (more|fewer) than listed/.test(c.label) && !c.error.test(e.message)) {
          problems.push(`[${c.kind}: ${c.label}] unexpected message: ${e.message}`);
        }
        checked++;
      } finally {
        await fh.close();
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked > 100);
  });

  test('random damage to the header: opens and reads, or one CheckpointError', async () => {
    const { bytes, layout } = validBase();
    const next = xorshift32(2024);
    const file = path.join(root, 'mutated.gguf');
    let refused = 0;
    for (let round = 0; round < 300; round++) {
      const b = Buffer.from(bytes);
      const flips = 1 + (next() % 4);
      for (let f = 0; f < flips; f++) {
        const at = next() % layout.dataStart;
        b[at] = next() & 0xff;
      }
      writeFileSync(file, b);
      try {
        await attempt(file, true);
      } catch (e) {
        assert.ok(e instanceof CheckpointError, `round ${round}: ${String(e)}`);
        refused++;
      }
    }
    assert.ok(refused > 0);
  });
});
