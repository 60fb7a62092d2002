/**
 * @file The malformed GGUF files of the fuzz suite, each made from one valid file (written by
 * tools/gguf/writer.ts, whose layout says where every field lies) by one damage, with the error it
 * must give. llama.cpp's GGUF CVEs are the checklist: string lengths and counts that overflow or
 * exceed the file (CVE-2024-25664/25666, GHSA huge-count DoS), offset + size wrapping past the file
 * (CVE-2024-25631), n_dims > 4 and dims whose product overflows (ggml PR 709), unknown types, zero
 * or non-power-of-two alignment, duplicate keys and tensor names, and truncation anywhere.
 */
import { GgufValueType } from '../../../../src/engine/checkpoint/gguf/types';
import { xorshift32, randomBlocks } from '../../../../tools/gguf/quantize';
import { buildGguf, gv, type GgufLayout, type MetaValue } from '../../../../tools/gguf/writer';

export interface FuzzCase {
  kind: string;
  label: string;
  bytes: Buffer;
  /** The error must match this. */
  error: RegExp;
  /** Read every tensor with checkFinite too (damage in the data, not the header). */
  read?: boolean;
}

const META: Record<string, MetaValue> = {
  'general.architecture': 'qwen3moe',
  'general.name': 'fuzz base',
  'qwen3moe.block_count': gv.u32(1),
  'qwen3moe.rope.freq_base': gv.f32(1e6),
  'tokenizer.ggml.tokens': ['<s>', 'a', 'b', 'ab'],
  'tokenizer.ggml.token_type': Int32Array.of(3, 1, 1, 1),
  'tokenizer.ggml.add_bos_token': false,
  'general.nested': gv.array(GgufValueType.ARRAY, [gv.array(GgufValueType.UINT8, [1, 2, 3])]),
  'general.size': gv.u64(123456789n),
};

function f32Values(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.1);
}

/** The valid base: four tensors of four types (names of equal length so one can be renamed to another). */
export function validBase(): { bytes: Buffer; layout: GgufLayout } {
  const next = xorshift32(7);
  return buildGguf(META, [
    { name: 'blk.0.attn_q.weight', type: 'F32', shape: [4, 32], values: f32Values(128) },
    { name: 'blk.0.ffn_up.weight', type: 'Q4_K', shape: [2, 256], raw: randomBlocks('Q4_K', 2, next) },
    { name: 'blk.0.ffn_dn.weight', type: 'Q8_0', shape: [3, 64], raw: randomBlocks('Q8_0', 6, next) },
    { name: 'blk.0.ffn_gt.weight', type: 'F16', shape: [2, 2, 8], values: f32Values(32) },
  ]);
}

function patched(base: Buffer, edits: (b: Buffer) => void): Buffer {
  const b = Buffer.from(base);
  edits(b);
  return b;
}

const u32 = (at: number, v: number) => (b: Buffer) => b.writeUInt32LE(v >>> 0, at);
const u64 = (at: number, v: bigint) => (b: Buffer) => b.writeBigUInt64LE(v, at);

const TRUNCATED = /file ends at byte|runs past the end of the file|past the end of the file|shorter than the 24-byte|bytes left in the file|than the file can hold/;
const HUGE_U64 = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 1n << 40n];

export function fuzzCases(): FuzzCase[] {
  const { bytes: base, layout } = validBase();
  const cases: FuzzCase[] = [];
  const add = (kind: string, label: string, bytes: Buffer, error: RegExp, read = false) => cases.push({ kind, label, bytes, error, read });

  // Truncation at every structural boundary (and one byte either side of it).
  const bounds = new Set<number>([0, 3, 4, 8, 16, 24, layout.infosEnd, layout.dataStart]);
  for (const k of layout.keys) {
    [k.at, k.at + 8, k.typeAt, k.valueAt, k.valueAt + 4, k.end - 1].forEach((x) => bounds.add(x));
  }
  for (const t of layout.tensors) {
    [t.at, t.at + 8, t.nDimsAt, t.dimsAt, t.dimsAt + 8, t.typeAt, t.offsetAt, t.end - 1, t.dataStart + 1, t.dataEnd - 1].forEach((x) => bounds.add(x));
  }
  for (const b of [...bounds].sort((x, y) => x - y)) {
    for (const at of [b - 1, b, b + 1]) {
      if (at >= 0 && at < base.length && !cases.some((c) => c.kind === 'truncated' && c.bytes.length === at)) {
        add('truncated', `at byte ${at} of ${base.length}`, base.subarray(0, at), TRUNCATED);
      }
    }
  }

  // Magic and version.
  for (const magic of ['GGUE', 'ggml', 'GGJT', '\0\0\0\0', '{"__']) {
    add('magic', magic, patched(base, (b) => b.write(magic, 0, 'latin1')), /not a GGUF file/);
  }
  add('magic', 'a safetensors header', Buffer.concat([Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":1}'.padEnd(64, ' '))]), /not a GGUF file/);
  for (const [v, err] of [[0, /version 0 is not supported/], [1, /version 1 \(2023\)/], [4, /version 4 is not supported/], [0xffffffff, /version 4294967295/], [0x03000000, /big-endian/], [0x02000000, /big-endian/]] as const) {
    add('version', String(v), patched(base, u32(4, v)), err);
  }

  // Huge or wrong counts.
  for (const v of [...HUGE_U64, 1000n, BigInt(base.length)]) {
    add('tensor count', String(v), patched(base, u64(8, v)), /the tensor count is \d+, more tensor infos than the file can hold/);
    add('key count', String(v), patched(base, u64(16, v)), /the metadata key count is \d+, more metadata entries than the file can hold/);
  }
  add('tensor count', 'one more than listed', patched(base, u64(8, BigInt(layout.tensorCount + 1))), /tensor info #4|file ends|than the file can hold|not a multiple|overlaps|gap|ggml type|dimensions/);
  add('key count', 'one more than listed', patched(base, u64(16, BigInt(layout.keyCount + 1))), /metadata key #|than the file can hold|file ends|value type|not valid UTF-8|tensor info #0's name's length/);
  add('key count', 'one fewer than listed', patched(base, u64(16, BigInt(layout.keyCount - 1))), /tensor info|dimension|ggml type|file ends|than the file can hold|longer than ggml/);

  // Strings: key lengths and string values that overflow, exceed the file or the limit.
  for (const k of layout.keys) {
    for (const v of HUGE_U64) {
      add('key length', `${k.key}: ${v}`, patched(base, u64(k.at, v)), /length is \d+, (past the \d+ bytes left in the file|over the \d+-byte limit)/);
    }
    add('key length', `${k.key}: 0`, patched(base, u64(k.at, 0n)), /is empty|value type|not a GGUF type|file ends/);
    for (const t of [13, 255, 0xffffffff]) {
      add('value type', `${k.key}: ${t}`, patched(base, u32(k.typeAt, t)), /value type \d+, which is not a GGUF type/);
    }
  }
  const strKey = layout.keys.find((k) => k.key === 'general.name');
  if (strKey) {
    for (const v of HUGE_U64) {
      add('string length', `general.name: ${v}`, patched(base, u64(strKey.valueAt, v)), /length is \d+, (past the|over the)/);
    }
    add('string length', 'general.name: 17 MiB in a file that has them', Buffer.concat([patched(base, u64(strKey.valueAt, BigInt(17 << 20))), Buffer.alloc(17 << 20)]), /over the 16777216-byte limit/);
  }

  // Arrays: item types and counts.
  for (const key of ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'general.nested']) {
    const k = layout.keys.find((e) => e.key === key);
    if (!k) {
      continue;
    }
    for (const v of HUGE_U64) {
      add('array count', `${key}: ${v}`, patched(base, u64(k.valueAt + 4, v)), /item count is \d+, (more .* items than the \d+ bytes left|over the limit of)/);
    }
    for (const t of [13, 99, 0xffffffff]) {
      add('array item type', `${key}: ${t}`, patched(base, u32(k.valueAt, t)), /items's type|value type \d+, which is not a GGUF type/);
    }
  }
  const bool = layout.keys.find((e) => e.key === 'tokenizer.ggml.add_bos_token');
  if (bool) {
    add('bool', 'stored as 2', patched(base, (b) => b.writeUInt8(2, bool.valueAt)), /is a bool stored as 2/);
  }

  // Tensor infos.
  for (const [i, t] of layout.tensors.entries()) {
    const name = t.name;
    for (const n of [0, 5, 8, 0xffffffff]) {
      add('n_dims', `${name}: ${n}`, patched(base, u32(t.nDimsAt, n)), /has \d+ dimensions; ggml tensors have 1 to 4/);
    }
    add('dims', `${name}: 0`, patched(base, u64(t.dimsAt, 0n)), /dimension 0 is 0/);
    for (const v of [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n]) {
      add('dims', `${name}: ${v}`, patched(base, u64(t.dimsAt, v)), /dimension 0 is \d+, past 2\^53/);
    }
    add('dims', `${name}: product past 2^53`, patched(base, (b) => { b.writeBigUInt64LE(2n ** 30n * 256n, t.dimsAt); b.writeBigUInt64LE(2n ** 30n, t.dimsAt + 8); }), /hold more than 2\^53 elements/);
    add('dims', `${name}: larger than its data`, patched(base, u64(t.dimsAt + 8, 1n << 20n)), /runs past the end of the file|overlaps|gap/);
    for (const type of [4, 5, 31, 41, 1000, 0xffffffff]) {
      add('type', `${name}: ${type}`, patched(base, u32(t.typeAt, type)), /has ggml type \d+, which is not a type llama\.cpp defines/);
    }
    for (const [type, tname] of [[16, 'IQ2_XXS'], [19, 'IQ1_S'], [21, 'IQ3_S'], [22, 'IQ2_S'], [9, 'Q8_1'], [15, 'Q8_K'], [34, 'TQ1_0'], [40, 'NVFP4']] as const) {
      add('type', `${name}: ${tname}`, patched(base, u32(t.typeAt, type)), new RegExp(`is stored as ${tname}, which MoE Lens does not dequantise`));
    }
    for (const v of [1n, 16n, 2n ** 64n - 1n, 2n ** 63n, BigInt(base.length), 2n ** 53n + 32n]) {
      const aligned = v % 32n === 0n;
      add('offset', `${name}: ${v}`, patched(base, u64(t.offsetAt, v)), aligned ? /past 2\^53|runs past the end|gap|overlaps/ : /not a multiple of the alignment 32|past 2\^53/);
    }
    if (i > 0) {
      add('offset', `${name}: overlaps the previous`, patched(base, u64(t.offsetAt, BigInt(layout.tensors[i - 1].dataStart - layout.dataStart))), /overlaps tensor/);
      add('name', `${name}: renamed to tensor 0's`, patched(base, (b) => b.write(layout.tensors[0].name, t.at + 8, 'utf8')), /appears twice among the tensor infos/);
    }
    add('offset', `${name}: a gap of one alignment`, patched(base, u64(t.offsetAt, BigInt(t.dataStart - layout.dataStart + 32))), /leaving a gap|overlaps|runs past the end/);
    add('name', `${name}: invalid UTF-8`, patched(base, (b) => b.writeUInt8(0xff, t.at + 8)), /name is not valid UTF-8/);
    add('name', `${name}: length 0`, patched(base, u64(t.at, 0n)), /has an empty name|file ends|dimensions|than the file can hold|ggml type/);
    add('name', `${name}: length past the file`, patched(base, u64(t.at, 2n ** 62n)), /length is \d+, past the/);
  }
  // ne[0] of a Q4_K tensor that is not a whole number of 256-value blocks (same element count).
  const q4 = layout.tensors[1];
  add('block', 'Q4_K rows of 128', patched(base, (b) => { b.writeBigUInt64LE(128n, q4.dimsAt); b.writeBigUInt64LE(4n, q4.dimsAt + 8); }), /rows of 128 values are not a whole number of Q4_K blocks of 256/);

  // Keys: bad UTF-8, and a duplicate (the second of two keys of equal length renamed to the first).
  add('key', 'invalid UTF-8', patched(base, (b) => b.writeUInt8(0xc3, layout.keys[0].at + 8 + 3)), /metadata key #0 is not valid UTF-8/);
  add('key', 'duplicate', rebuildWith({ ...META, 'dup.aaaa': 1, 'dup.aaab': 2 }, (b, l) => {
    const second = l.keys.find((e) => e.key === 'dup.aaab') as { at: number };
    b.write('a', second.at + 8 + 7, 'utf8');
  }), /metadata key "dup\.aaaa" appears twice/);

  // general.alignment: wrong type, zero, not a power of two, huge.
  add('alignment', 'INT32', rebuildMeta({ 'general.alignment': gv.i32(32) }), /"general\.alignment" is INT32; it must be UINT32/);
  add('alignment', '0', rebuildMeta({ 'general.alignment': gv.u32(0) }), /"general\.alignment" is 0; it must be a power of two/);
  add('alignment', '48', rebuildMeta({ 'general.alignment': gv.u32(48) }), /"general\.alignment" is 48; it must be a power of two/);
  add('alignment', '2^31', rebuildMeta({ 'general.alignment': gv.u32(2 ** 31) }), /past the end of the file|not a multiple of the alignment/);
  add('alignment', 'string', rebuildMeta({ 'general.alignment': '32' }), /"general\.alignment" is STRING/);

  // Arrays nested too deep.
  const deep = gv.array(GgufValueType.ARRAY, [gv.array(GgufValueType.ARRAY, [gv.array(GgufValueType.ARRAY, [gv.array(GgufValueType.UINT8, [1])])])]);
  add('array', 'nested four deep', rebuildMeta({ 'x.deep': deep }), /nests arrays more than 3 deep/);

  // Damage in the data: found when the tensor is read, named with the tensor.
  const f16 = layout.tensors[3];
  add('data', 'F16 +inf', patched(base, (b) => b.writeUInt16LE(0x7c00, f16.dataStart + 6)), /blk\.0\.ffn_gt\.weight.*non-finite value/, true);
  const f32 = layout.tensors[0];
  add('data', 'F32 NaN', patched(base, (b) => b.writeUInt32LE(0x7fc00000, f32.dataStart + 8)), /blk\.0\.attn_q\.weight.*non-finite value/, true);
  add('data', 'Q4_K scale inf', patched(base, (b) => b.writeUInt16LE(0x7c00, q4.dataStart)), /blk\.0\.ffn_up\.weight.*non-finite value/, true);
  const q8 = layout.tensors[2];
  add('data', 'Q8_0 scale NaN', patched(base, (b) => b.writeUInt16LE(0x7e00, q8.dataStart + 34)), /blk\.0\.ffn_dn\.weight.*non-finite value/, true);

  return cases;
}

function rebuildMeta(extra: Record<string, MetaValue>): Buffer {
  return rebuildWith({ ...META, ...extra }, () => undefined);
}

/** The base tensors with other metadata, then an edit that knows the new layout. */
function rebuildWith(meta: Record<string, MetaValue>, edit: (b: Buffer, l: GgufLayout) => void): Buffer {
  const next = xorshift32(7);
  const { bytes, layout } = buildGguf(meta, [
    { name: 'blk.0.attn_q.weight', type: 'F32', shape: [4, 32], values: f32Values(128) },
    { name: 'blk.0.ffn_up.weight', type: 'Q4_K', shape: [2, 256], raw: randomBlocks('Q4_K', 2, next) },
  ]);
  edit(bytes, layout);
  return bytes;
}
