/**
 * @file The GGUF reader on valid files written by tools/gguf/writer.ts: every metadata value type
 * (nested arrays too) comes back as written, tensors come back with row-major shapes and their
 * values (whole, a row range, one expert of a stacked tensor), v2 and v3, a custom alignment, and
 * split files opened from any one of them.
 */
import assert from 'node:assert/strict';
import { promises as fsp, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { metaBool, metaFloat, metaInt, metaNumbers, metaString, metaStrings } from '../../../../src/engine/checkpoint/gguf/metadata';
import { openGgufCheckpoint, ggufSplitFiles } from '../../../../src/engine/checkpoint/gguf/open';
import { readGgufMetadata, type GgufArrayEntry } from '../../../../src/engine/checkpoint/gguf/reader';
import { GgufValueType } from '../../../../src/engine/checkpoint/gguf/types';
import { buildGguf, gv, writeGguf, type GgufTensorSpec } from '../../../../tools/gguf/writer';

const root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-gguf-'));
after(() => rmSync(root, { recursive: true, force: true }));

function seq(n: number, scale = 0.01): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.37) * scale * (1 + (i % 7))));
}

describe('GGUF reader', () => {
  test('every metadata value type round-trips, nested arrays included', async () => {
    const file = path.join(root, 'meta.gguf');
    writeGguf(
      file,
      {
        'general.architecture': 'qwen3moe',
        'a.u8': gv.u8(200),
        'a.i8': gv.i8(-5),
        'a.u16': gv.u16(60000),
        'a.i16': gv.i16(-30000),
        'a.u32': gv.u32(4_000_000_000),
        'a.i32': gv.i32(-2_000_000_000),
        'a.f32': gv.f32(0.1),
        'a.f64': gv.f64(0.1),
        'a.bool': gv.bool(true),
        'a.u64': gv.u64(2n ** 60n),
        'a.i64': gv.i64(-42n),
        'a.small_u64': gv.u64(12),
        'a.strings': ['a', 'é', '', '日本'],
        'a.scores': Float32Array.of(-1.5, 0, 2.25),
        'a.types': Int32Array.of(1, 3, 6),
        'a.bools': gv.array(GgufValueType.BOOL, [true, false, true]),
        'a.nested': gv.array(GgufValueType.ARRAY, [gv.array(GgufValueType.UINT16, [1, 2]), gv.array(GgufValueType.STRING, ['x'])]),
      },
      [{ name: 'w', type: 'F32', shape: [2, 4], values: seq(8) }],
    );
    const ck = await openGgufCheckpoint(file);
    try {
      const m = ck.ggufMetadata;
      assert.equal(metaString(m, 'general.architecture'), 'qwen3moe');
      assert.equal(metaInt(m, 'a.u8'), 200);
      assert.equal(metaInt(m, 'a.i8'), -5);
      assert.equal(metaInt(m, 'a.u16'), 60000);
      assert.equal(metaInt(m, 'a.i16'), -30000);
      assert.equal(metaInt(m, 'a.u32'), 4_000_000_000);
      assert.equal(metaInt(m, 'a.i32'), -2_000_000_000);
      assert.equal(metaFloat(m, 'a.f32'), Math.fround(0.1));
      assert.equal(metaFloat(m, 'a.f64'), 0.1);
      assert.equal(metaBool(m, 'a.bool'), true);
      assert.equal(m.get('a.u64')?.value, 2n ** 60n);
      assert.throws(() => metaInt(m, 'a.u64'), /past 2\^53/);
      assert.equal(metaInt(m, 'a.i64'), -42);
      assert.equal(metaInt(m, 'a.small_u64'), 12);
      assert.deepEqual(metaStrings(m, 'a.strings'), ['a', 'é', '', '日本']);
      assert.deepEqual(Array.from(metaNumbers(m, 'a.scores') ?? []), [-1.5, 0, 2.25]);
      assert.deepEqual(Array.from(metaNumbers(m, 'a.types') ?? []), [1, 3, 6]);
      assert.deepEqual(m.get('a.bools')?.value, [true, false, true]);
      const nested = m.get('a.nested')?.value as GgufArrayEntry[];
      assert.equal(nested[0].itemType, GgufValueType.UINT16);
      assert.deepEqual(Array.from(nested[0].items as Uint16Array), [1, 2]);
      assert.deepEqual(nested[1].items, ['x']);
      assert.equal(metaInt(m, 'absent'), undefined);
      assert.throws(() => metaInt(m, 'general.architecture'), /"general.architecture" is STRING, but an integer is expected/);
      assert.throws(() => metaStrings(m, 'a.scores'), /is an array of FLOAT32, but an array of strings is expected/);
    } finally {
      await ck.close();
    }
  });

  test('a vocabulary larger than the 1 MB read window round-trips, every token intact', async () => {
    const file = path.join(root, 'vocab.gguf');
    const tokens = Array.from({ length: 120_000 }, (_, i) => (i % 5 === 0 ? 'Ġ日本' : 'tok') + i.toString(36) + (i % 11 === 0 ? 'é' : ''));
    writeGguf(file, { 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.scores': Float32Array.from(tokens, (_, i) => -i), 'general.name': 'after the arrays' }, [{ name: 'w', type: 'F32', shape: [32], values: seq(32) }]);
    const ck = await openGgufCheckpoint(file);
    try {
      assert.deepEqual(metaStrings(ck.ggufMetadata, 'tokenizer.ggml.tokens'), tokens);
      assert.equal(metaNumbers(ck.ggufMetadata, 'tokenizer.ggml.scores')?.[119_999], -119_999);
    } finally {
      await ck.close();
    }
    // The quick look for listing models: scalars read, the vocabulary stepped over.
    const fh = await fsp.open(file, 'r');
    try {
      const quick = await readGgufMetadata(fh, file, (await fh.stat()).size);
      assert.deepEqual(quick.skippedArrays, ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores']);
      assert.equal(quick.metadata.has('tokenizer.ggml.tokens'), false);
      assert.equal(metaString(quick.metadata, 'general.name'), 'after the arrays');
      assert.equal(quick.tensorCount, 1);
    } finally {
      await fh.close();
    }
  });

  test('a string value with bytes that are not UTF-8 reads with U+FFFD, as llama.cpp keeps such tokens', async () => {
    const file = path.join(root, 'badutf8.gguf');
    const { bytes, layout } = buildGguf({ 'tokenizer.ggml.tokens': ['ab', 'cd'] }, [{ name: 'w', type: 'F32', shape: [32], values: seq(32) }]);
    bytes[layout.keys[0].valueAt + 12 + 8] = 0xff; // first byte of 'ab'
    writeFileSync(file, bytes);
    const ck = await openGgufCheckpoint(file);
    try {
      assert.deepEqual(metaStrings(ck.ggufMetadata, 'tokenizer.ggml.tokens'), ['\ufffdb', 'cd']);
    } finally {
      await ck.close();
    }
  });

  for (const version of [2, 3]) {
    test(`v${version}: F32, F16 and BF16 tensors read back with row-major shapes, whole and by range`, async () => {
      const file = path.join(root, `plain-v${version}.gguf`);
      const a = seq(3 * 64);
      const b = seq(4 * 2 * 32, 0.5);
      const c = seq(5 * 32, 3);
      writeGguf(
        file,
        { 'general.architecture': 'llama' },
        [
          { name: 'a.weight', type: 'F32', shape: [3, 64], values: a },
          { name: 'b.weight', type: 'F16', shape: [4, 2, 32], values: b },
          { name: 'c.weight', type: 'BF16', shape: [5, 32], values: c },
        ],
        { version },
      );
      const ck = await openGgufCheckpoint(file);
      try {
        assert.equal(ck.headers[0].version, version);
        assert.deepEqual(ck.names(), ['a.weight', 'b.weight', 'c.weight']);
        assert.deepEqual(ck.info('b.weight').shape, [4, 2, 32]);
        assert.deepEqual(ck.ggufTensor('b.weight').ne, [32, 2, 4]);
        assert.equal(ck.info('b.weight').dtype, 'F16');
        assert.deepEqual(await ck.readFloat32('a.weight'), a);
        const half = await ck.readFloat32('b.weight');
        assert.ok(half.every((v, i) => Math.abs(v - b[i]) <= Math.abs(b[i]) * 1e-3 + 1e-7));
        const bf = await ck.readFloat32('c.weight');
        assert.ok(bf.every((v, i) => Math.abs(v - c[i]) <= Math.abs(c[i]) * 8e-3));
        // Expert 2 of the stacked [4, 2, 32] tensor, and rows 1..2 of a.
        assert.deepEqual(await ck.readFloat32('b.weight', { range: { from: 2 * 64, count: 64 } }), half.slice(128, 192));
        assert.deepEqual(await ck.readFloat32('a.weight', { range: { from: 64, count: 128 } }), a.slice(64));
        assert.deepEqual(await ck.readRaw('a.weight', 4, 8), new Uint8Array(a.buffer, 4, 4));
      } finally {
        await ck.close();
      }
    });
  }

  test('a custom general.alignment aligns the data and every tensor', async () => {
    const file = path.join(root, 'align.gguf');
    const layout = writeGguf(file, {}, [
      { name: 'x', type: 'F32', shape: [3], values: [1, 2, 3] },
      { name: 'y', type: 'F32', shape: [2], values: [4, 5] },
    ], { alignment: 64 });
    assert.equal(layout.tensors[1].dataStart % 64, 0);
    const ck = await openGgufCheckpoint(file);
    try {
      assert.equal(ck.headers[0].alignment, 64);
      assert.deepEqual(Array.from(await ck.readFloat32('y')), [4, 5]);
    } finally {
      await ck.close();
    }
  });

  test('split files open from any one of them; a missing split is named', async () => {
    const dir = path.join(root, 'split');
    mkdirSync(dir);
    const parts: GgufTensorSpec[][] = [
      [{ name: 'token_embd.weight', type: 'F32', shape: [4, 32], values: seq(128) }],
      [{ name: 'blk.0.ffn_gate_exps.weight', type: 'F16', shape: [2, 3, 32], values: seq(192) }],
      [{ name: 'output.weight', type: 'F32', shape: [4, 32], values: seq(128, 2) }],
    ];
    parts.forEach((tensors, i) => {
      const meta = { 'split.no': gv.u16(i), 'split.count': gv.u16(3), 'split.tensors.count': gv.i32(3), ...(i === 0 ? { 'general.architecture': 'olmoe' } : {}) };
      writeFileSync(path.join(dir, `m-0000${i + 1}-of-00003.gguf`), buildGguf(meta, tensors).bytes);
    });
    assert.equal((await ggufSplitFiles(path.join(dir, 'm-00002-of-00003.gguf'))).length, 3);
    const ck = await openGgufCheckpoint(path.join(dir, 'm-00003-of-00003.gguf'));
    try {
      assert.deepEqual(ck.names().sort(), ['blk.0.ffn_gate_exps.weight', 'output.weight', 'token_embd.weight']);
      assert.equal(metaString(ck.ggufMetadata, 'general.architecture'), 'olmoe');
      assert.deepEqual(await ck.readFloat32('output.weight'), seq(128, 2));
      assert.match(ck.info('output.weight').file, /m-00003-of-00003\.gguf$/);
    } finally {
      await ck.close();
    }
    // A split from another model (split.count 4) among them.
    writeFileSync(path.join(dir, 'm-00002-of-00003.gguf'), buildGguf({ 'split.no': gv.u16(1), 'split.count': gv.u16(4) }, parts[1]).bytes);
    await assert.rejects(openGgufCheckpoint(path.join(dir, 'm-00001-of-00003.gguf')), /m-00002-of-00003\.gguf: metadata "split\.count" is 4, but the file name makes it 3/);
    rmSync(path.join(dir, 'm-00002-of-00003.gguf'));
    await assert.rejects(openGgufCheckpoint(path.join(dir, 'm-00001-of-00003.gguf')), /m-00002-of-00003\.gguf: split 2 of 3 of this GGUF model is missing/);
  });
});
