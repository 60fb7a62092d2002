/**
 * @file Valid checkpoints load with exact values: every dtype (bf16/f16/fp8 subnormals, ±inf, NaN,
 * -0 by bit pattern), single and sharded files, metadata, positioned reads past 4 GB, symlinks the
 * loader must accept (inside the folder, Hugging Face hub cache layout), and readModelConfig.
 */
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckpointError, assertFinite, findNonFinite, openCheckpoint } from '../../../src/engine/checkpoint/checkpoint';
import { widen, type Dtype } from '../../../src/engine/checkpoint/dtypes';
import { readModelConfig } from '../../../src/engine/checkpoint/modelFolder';
import { parseStrictJson } from '../../../src/engine/checkpoint/strictJson';
import { rawSafetensors, toBf16, toF16, writeSafetensors, writeShardedSafetensors } from '../../helpers/writeSafetensors';

let root = '';
let n = 0;
const fresh = () => {
  const d = path.join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};
before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-ckpt-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

const u16 = (bits: number[]) => new Uint8Array(new Uint16Array(bits).buffer);
const u8 = (bits: number[]) => new Uint8Array(bits);

/** Object.is comparison element by element, so -0 and NaN are checked too. */
function same(actual: Float32Array, expected: number[]): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Object.is(actual[i], e), `[${i}]: ${actual[i]} !== ${e}`));
}

describe('dtype conversion to float32 (bit patterns)', () => {
  test('BF16: normals, max, subnormals, ±0, ±inf, NaN', async () => {
    const dir = fresh();
    const bits = [0x3f80, 0xc000, 0x3eab, 0x7f7f, 0x0080, 0x0001, 0x007f, 0x8001, 0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc1];
    writeSafetensors(path.join(dir, 'model.safetensors'), { w: { dtype: 'BF16', shape: [bits.length], data: u16(bits) } });
    const ck = await openCheckpoint(dir);
    same(await ck.readFloat32('w'), [
      1, -2, 0.333984375, 3.3895313892515355e38, 1.1754943508222875e-38, 2 ** -133, 127 * 2 ** -133, -(2 ** -133), 0, -0, Infinity, -Infinity, NaN, NaN,
    ]);
    await ck.close();
  });

  test('F16: normals, max, subnormals, ±0, ±inf, NaN', async () => {
    const dir = fresh();
    const bits = [0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01];
    writeSafetensors(path.join(dir, 'model.safetensors'), { w: { dtype: 'F16', shape: [2, 7], data: u16(bits) } });
    const ck = await openCheckpoint(dir);
    same(await ck.readFloat32('w'), [1, -2, 0.333251953125, 65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24, -(2 ** -24), 0, -0, Infinity, -Infinity, NaN, NaN]);
    await ck.close();
  });

  test('F8_E4M3 (fn) and F8_E5M2', async () => {
    const dir = fresh();
    writeSafetensors(path.join(dir, 'model.safetensors'), {
      e4: { dtype: 'U8', shape: [6], data: u8([0x38, 0x7e, 0x01, 0x07, 0x7f, 0xb8]) },
      e5: { dtype: 'U8', shape: [6], data: u8([0x3c, 0x7b, 0x01, 0x7c, 0xfc, 0x7d]) },
    });
    // Re-label the U8 tensors as fp8 in the header (the writer helper does not know fp8).
    const file = path.join(dir, 'model.safetensors');
    const { readFileSync } = await import('node:fs');
    const b = readFileSync(file);
    const len = Number(b.readBigUInt64LE(0));
    const header = b.subarray(8, 8 + len).toString().replace('"e4":{"dtype":"U8"', '"e4":{"dtype":"F8_E4M3"').replace('"e5":{"dtype":"U8"', '"e5":{"dtype":"F8_E5M2"');
    writeFileSync(file, rawSafetensors(header, b.subarray(8 + len)));
    const ck = await openCheckpoint(dir);
    same(await ck.readFloat32('e4'), [1, 448, 2 ** -9, 7 * 2 ** -9, NaN, -1]);
    same(await ck.readFloat32('e5'), [1, 57344, 2 ** -16, Infinity, -Infinity, NaN]);
    await ck.close();
  });

  test('F64, F32 and every integer dtype, including BOOL and 64-bit extremes', async () => {
    const dir = fresh();
    writeSafetensors(path.join(dir, 'model.safetensors'), {
      f64: { dtype: 'F64', shape: [4], data: [1.5, -1e-300, 1e300, 0.1] },
      f32: { dtype: 'F32', shape: [3], data: [Math.fround(0.1), -3.5, 1e-45] },
      i64: { dtype: 'I64', shape: [3], data: [-(2 ** 40), 2 ** 53, -1] },
      u64: { dtype: 'U64', shape: [2], data: [0, 2 ** 60] },
      i32: { dtype: 'I32', shape: [3], data: [-2147483648, 2147483647, 0] },
      u32: { dtype: 'U32', shape: [2], data: [4294967295, 7] },
      i16: { dtype: 'I16', shape: [3], data: [-32768, 32767, -1] },
      u16: { dtype: 'U16', shape: [2], data: [65535, 1] },
      i8: { dtype: 'I8', shape: [3], data: [-128, 127, -1] },
      u8: { dtype: 'U8', shape: [2], data: [255, 0] },
      bool: { dtype: 'BOOL', shape: [3], data: [1, 0, 1] },
    });
    const ck = await openCheckpoint(dir);
    same(await ck.readFloat32('f64'), [1.5, -0, Infinity, Math.fround(0.1)]);
    same(await ck.readFloat32('f32'), [Math.fround(0.1), -3.5, Math.fround(1e-45)]);
    same(await ck.readFloat32('i64'), [-(2 ** 40), 2 ** 53, -1]);
    same(await ck.readFloat32('u64'), [0, 2 ** 60]);
    same(await ck.readFloat32('i32'), [-2147483648, 2147483648, 0]);
    same(await ck.readFloat32('u32'), [4294967296, 7]);
    same(await ck.readFloat32('i16'), [-32768, 32767, -1]);
    same(await ck.readFloat32('u16'), [65535, 1]);
    same(await ck.readFloat32('i8'), [-128, 127, -1]);
    same(await ck.readFloat32('u8'), [255, 0]);
    same(await ck.readFloat32('bool'), [1, 0, 1]);
    assert.deepEqual(ck.info('i16'), { name: 'i16', dtype: 'I16', shape: [3], file: path.join(dir, 'model.safetensors'), start: ck.info('i16').start, end: ck.info('i16').start + 6 });
    await ck.close();
  });

  test('the writer helper rounds to nearest even (so tests can trust it)', () => {
    assert.equal(toBf16(1 + 2 ** -8), 0x3f80); // tie → even
    assert.equal(toBf16(1 + 3 * 2 ** -8), 0x3f82); // tie → even (up)
    assert.equal(toF16(65520), 0x7c00); // rounds to inf
    assert.equal(toF16(65519), 0x7bff);
    assert.equal(toF16(2 ** -25), 0x0000); // tie → even (0)
    assert.equal(toF16(3 * 2 ** -25), 0x0002);
    assert.equal(toF16(-0), 0x8000);
  });
});

describe('layouts', () => {
  test('a sharded checkpoint reads each tensor from its own shard, with metadata and zero-size/scalar tensors', async () => {
    const dir = fresh();
    const names = writeShardedSafetensors(
      dir,
      {
        'model.embed_tokens.weight': { dtype: 'BF16', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
        'model.layers.0.mlp.gate.weight': { dtype: 'F32', shape: [2, 2], data: [0.5, -0.5, 0.25, -0.25] },
        'model.norm.weight': { dtype: 'F16', shape: [2], data: [1, 0.5] },
        scalar: { dtype: 'F32', shape: [], data: [42] },
        empty: { dtype: 'F32', shape: [0, 4], data: [] },
      },
      [['model.embed_tokens.weight', 'scalar'], ['model.layers.0.mlp.gate.weight', 'empty'], ['model.norm.weight']],
    );
    const ck = await openCheckpoint(dir);
    assert.deepEqual(ck.names().sort(), ['empty', 'model.embed_tokens.weight', 'model.layers.0.mlp.gate.weight', 'model.norm.weight', 'scalar']);
    assert.equal(ck.info('model.norm.weight').file, path.join(dir, names[2]));
    assert.equal(ck.info('empty').file, path.join(dir, names[1]));
    same(await ck.readFloat32('model.embed_tokens.weight'), [1, 2, 3, 4, 5, 6]);
    same(await ck.readFloat32('model.layers.0.mlp.gate.weight'), [0.5, -0.5, 0.25, -0.25]);
    same(await ck.readFloat32('model.norm.weight'), [1, 0.5]);
    same(await ck.readFloat32('scalar'), [42]);
    same(await ck.readFloat32('empty'), []);
    assert.equal(ck.has('scalar'), true);
    assert.equal(ck.has('nope'), false);
    assert.throws(() => ck.info('nope'), (e: unknown) => e instanceof CheckpointError && e.tensor === 'nope' && /"nope" not found/.test(e.message));
    await ck.close();
    await assert.rejects(ck.readFloat32('scalar'), /already closed/);
  });

  test('__metadata__ is exposed per file', async () => {
    const dir = fresh();
    writeSafetensors(path.join(dir, 'model.safetensors'), { w: { dtype: 'F32', shape: [1], data: [1] } }, { format: 'pt', note: 'x' });
    const ck = await openCheckpoint(dir);
    assert.deepEqual(ck.metadata.get(path.join(dir, 'model.safetensors')), { format: 'pt', note: 'x' });
    await ck.close();
  });

  test('without model.safetensors or an index, every *.safetensors file is loaded', async () => {
    const dir = fresh();
    writeSafetensors(path.join(dir, 'consolidated.safetensors'), { a: { dtype: 'F32', shape: [1], data: [1] } });
    writeSafetensors(path.join(dir, 'extra.safetensors'), { b: { dtype: 'F32', shape: [1], data: [2] } });
    const ck = await openCheckpoint(dir);
    assert.deepEqual(ck.names(), ['a', 'b']);
    same(await ck.readFloat32('b'), [2]);
    await ck.close();
  });

  test('positioned reads: a tensor after 5 GB of (sparse) data is read without reading the rest', async () => {
    const dir = fresh();
    const big = 5 * 2 ** 30;
    const header = JSON.stringify({ big: { dtype: 'U8', shape: [big], data_offsets: [0, big] }, tail: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] } });
    const file = path.join(dir, 'model.safetensors');
    const fd = openSync(file, 'w');
    const head = rawSafetensors(header);
    writeSync(fd, head);
    ftruncateSync(fd, head.length + big);
    writeSync(fd, Buffer.from(new Float32Array([3.25, -7]).buffer), 0, 8, head.length + big);
    closeSync(fd);
    const rss0 = process.memoryUsage().rss;
    const ck = await openCheckpoint(dir);
    assert.equal(ck.info('tail').start, head.length + big);
    same(await ck.readFloat32('tail'), [3.25, -7]);
    assert.ok(process.memoryUsage().rss - rss0 < 256 * 2 ** 20, 'opening must not read the shard');
    await ck.close();
  });

  test('symlinks inside the folder and the Hugging Face hub cache layout (snapshots → blobs) are accepted', async () => {
    const dir = fresh();
    writeSafetensors(path.join(dir, 'real.bin.safetensors'), { w: { dtype: 'F32', shape: [1], data: [5] } });
    symlinkSync('real.bin.safetensors', path.join(dir, 'model.safetensors'));
    const ck = await openCheckpoint(dir);
    same(await ck.readFloat32('w'), [5]);
    await ck.close();

    const repo = fresh();
    mkdirSync(path.join(repo, 'blobs'));
    mkdirSync(path.join(repo, 'snapshots', 'abc123'), { recursive: true });
    writeSafetensors(path.join(repo, 'blobs', 'f00d'), { w: { dtype: 'F32', shape: [1], data: [6] } });
    const snap = path.join(repo, 'snapshots', 'abc123');
    symlinkSync('../../blobs/f00d', path.join(snap, 'model.safetensors'));
    const ck2 = await openCheckpoint(snap);
    same(await ck2.readFloat32('w'), [6]);
    await ck2.close();
  });
});

describe('non-finite detection', () => {
  test('checkFinite as an open option names the tensor and the first bad index', async () => {
    const dir = fresh();
    writeSafetensors(path.join(dir, 'model.safetensors'), { ok: { dtype: 'F32', shape: [2], data: [1, 2] }, bad: { dtype: 'BF16', shape: [2, 3], data: [0, 1, 2, 3, NaN, 5] } });
    const ck = await openCheckpoint(dir, { checkFinite: true });
    same(await ck.readFloat32('ok'), [1, 2]);
    await assert.rejects(ck.readFloat32('bad'), (e: unknown) => e instanceof CheckpointError && e.tensor === 'bad' && /holds 1 non-finite value \(first: NaN at \[1, 1\]\)/.test(e.message));
    // Off by default: the caller decides.
    const ck2 = await openCheckpoint(dir);
    assert.ok(Number.isNaN((await ck2.readFloat32('bad'))[4]));
    await ck.close();
    await ck2.close();
  });

  test('widen with checkFinite: the in-loop bit test of each dtype agrees with a scan of the output', () => {
    /** Raw little-endian element bit patterns → widen's verdict, and a scan of what it produced. */
    const verdict = (dtype: Dtype, raw: number[] | Float64Array): [boolean, boolean] => {
      const bytes = { BF16: 2, F16: 2, F8_E4M3: 1, F8_E5M2: 1, F64: 8, F32: 4, I32: 4 }[dtype as string] as number;
      const buf = new ArrayBuffer(Math.max(4, bytes) * raw.length);
      const view = new DataView(buf);
      raw.forEach((v, i) => (bytes === 8 ? view.setFloat64(i * 8, v, true) : bytes === 4 ? view.setUint32(i * 4, v, true) : bytes === 2 ? view.setUint16(i * 2, v, true) : view.setUint8(i, v)));
      const { data, finite } = widen(dtype, buf, raw.length, true);
      assert.equal(widen(dtype, buf.slice(0), raw.length, false).finite, true, 'unchecked is always "finite"');
      return [finite, findNonFinite(data) < 0];
    };
    const cases: [Dtype, number[] | Float64Array, boolean][] = [
      ['BF16', [0x3f80, 0x7f7f, 0xff7f, 0x0001, 0x8000], true], // 1, ±max, subnormal, -0
      ['BF16', [0x3f80, 0x7fc0], false], // NaN
      ['BF16', [0x7f80, 0x3f80], false], // +Inf
      ['BF16', [0x3f80, 0x3f80, 0xff80], false], // -Inf
      ['BF16', [0x7f81], false], // signalling NaN
      ['F16', [0x3c00, 0x7bff, 0xfbff, 0x0001], true],
      ['F16', [0x3c00, 0x7e00], false],
      ['F16', [0xfc00], false],
      ['F8_E4M3', [0x7e, 0xfe, 0x38], true], // ±448 is the max, no infinities
      ['F8_E4M3', [0x38, 0x7f], false],
      ['F8_E5M2', [0x7b, 0x3c], true],
      ['F8_E5M2', [0x3c, 0x7c], false],
      ['F32', [0x3f800000, 0x7f7fffff], true],
      ['F32', [0x3f800000, 0xff800000], false],
      ['F64', new Float64Array([1, -3.4e38]), true],
      ['F64', new Float64Array([1, 1e300]), false], // beyond float32: became Inf
      ['I32', [0x7fffffff, 0xffffffff], true],
    ];
    for (const [dtype, raw, finite] of cases) {
      assert.deepEqual(verdict(dtype, raw), [finite, finite], `${dtype} [${[...raw].map((v) => v.toString(16))}]`);
    }
  });

  test('findNonFinite / assertFinite', () => {
    assert.equal(findNonFinite(new Float32Array([1, 2, 3])), -1);
    assert.equal(findNonFinite(new Float32Array([1, -Infinity, NaN])), 1);
    assert.throws(() => assertFinite({ name: 't', file: 'f.safetensors', shape: [3] }, new Float32Array([1, Infinity, NaN])), /f\.safetensors: tensor "t": holds 2 non-finite values/);
  });
});

describe('readModelConfig and strict JSON', () => {
  test('returns config.json as a plain object; __proto__ keys cannot pollute', async () => {
    const dir = fresh();
    writeFileSync(path.join(dir, 'config.json'), '{"model_type":"olmoe","hidden_size":2048,"rope_scaling":null,"__proto__":{"polluted":true}}');
    writeSafetensors(path.join(dir, 'model.safetensors'), { w: { dtype: 'F32', shape: [1], data: [1] } });
    const cfg = await readModelConfig(dir);
    assert.equal(cfg['model_type'], 'olmoe');
    assert.equal(cfg['hidden_size'], 2048);
    assert.equal(cfg['rope_scaling'], null);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf(cfg), Object.prototype);
  });

  test('a folder that does not exist, or a file instead of a folder', async () => {
    await assert.rejects(readModelConfig(path.join(root, 'nope')), /model folder not found/);
    const f = path.join(root, 'afile');
    writeFileSync(f, 'x');
    await assert.rejects(openCheckpoint(f), /not a folder/);
  });

  test('strict JSON: exact big integers, duplicate keys, escapes', () => {
    assert.deepEqual(parseStrictJson('[9007199254740993, 1.5, -0]', { exactIntegers: true }), [9007199254740993n, 1.5, 0n]);
    assert.deepEqual(parseStrictJson('{"a\\u00e9\\n":"\\ud83d\\ude00"}'), { 'aé\n': '😀' });
    assert.throws(() => parseStrictJson('{"a":1,"\\u0061":2}'), /duplicate key "a"/);
    assert.throws(() => parseStrictJson('{"a":[1,]}'), /at character 8/);
    assert.throws(() => parseStrictJson('[[[[1]]]]', { maxDepth: 3 }), /nested deeper than 3/);
  });
});
