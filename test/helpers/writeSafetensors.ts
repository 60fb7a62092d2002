/**
 * @file Test/bench helper: writes safetensors files (single or sharded with an index) from plain
 * arrays, and can also write deliberately damaged files (raw header text, extra bytes) for the fuzz
 * suite. Independent of src/ so any test can build a checkpoint on the fly.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

export type WriteDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'U64' | 'BOOL';

const BYTES: Record<WriteDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1 };

export interface TensorSpec {
  dtype: WriteDtype;
  shape: number[];
  /** Values (converted to the dtype, round-to-nearest-even for F16/BF16), or raw little-endian bytes. */
  data: ArrayLike<number> | Uint8Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → bf16 bits, round to nearest even, NaN kept NaN. */
export function toBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if (Number.isNaN(x)) {
    return ((b >>> 16) | 0x40) & 0xffff;
  }
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float → IEEE half bits, round to nearest even, with subnormals, overflow to ±inf, NaN. */
export function toF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) {
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  }
  let e = exp - 127 + 15;
  if (e >= 0x1f) {
    return sign | 0x7c00;
  }
  if (e <= 0) {
    if (e < -10) {
      return sign;
    }
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) {
      m++;
    }
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) {
        return sign | 0x7c00;
      }
    }
  }
  return sign | (e << 10) | m;
}

/** Encodes one tensor's data as little-endian bytes of its dtype. */
export function encodeTensor(t: TensorSpec): Uint8Array {
  if (t.data instanceof Uint8Array) {
    return t.data;
  }
  const n = t.data.length;
  const buf = Buffer.alloc(n * BYTES[t.dtype]);
  for (let i = 0; i < n; i++) {
    const v = t.data[i];
    switch (t.dtype) {
      case 'F64': buf.writeDoubleLE(v, i * 8); break;
      case 'F32': buf.writeFloatLE(v, i * 4); break;
      case 'F16': buf.writeUInt16LE(toF16(v), i * 2); break;
      case 'BF16': buf.writeUInt16LE(toBf16(v), i * 2); break;
      case 'I64': buf.writeBigInt64LE(BigInt(v), i * 8); break;
      case 'U64': buf.writeBigUInt64LE(BigInt(v), i * 8); break;
      case 'I32': buf.writeInt32LE(v, i * 4); break;
      case 'U32': buf.writeUInt32LE(v, i * 4); break;
      case 'I16': buf.writeInt16LE(v, i * 2); break;
      case 'U16': buf.writeUInt16LE(v, i * 2); break;
      case 'I8': buf.writeInt8(v, i); break;
      case 'U8': buf.writeUInt8(v, i); break;
      case 'BOOL': buf.writeUInt8(v ? 1 : 0, i); break;
    }
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** The exact bytes of a safetensors file with the given header text and data. */
export function rawSafetensors(headerText: string, data: Uint8Array = new Uint8Array(0), headerLen?: bigint): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(header.length));
  return Buffer.concat([len, header, data]);
}

/** Header object + data bytes for the given tensors (in insertion order, contiguous). */
export function buildSafetensors(tensors: Record<string, TensorSpec>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) {
    header['__metadata__'] = metadata;
  }
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = encodeTensor(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes.length] };
    parts.push(bytes);
    off += bytes.length;
  }
  // Pad the header with spaces to a multiple of 8, as the reference writer does.
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  return rawSafetensors(text, Buffer.concat(parts));
}

export function writeSafetensors(file: string, tensors: Record<string, TensorSpec>, metadata?: Record<string, string>): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, buildSafetensors(tensors, metadata));
}

/**
 * Streams a safetensors file whose tensor data comes from a generator, so a large bench checkpoint
 * never sits in memory whole: `fill(name)` returns the tensor's encoded bytes.
 */
export function writeSafetensorsStreaming(
  file: string,
  tensors: { name: string; dtype: WriteDtype; shape: number[] }[],
  fill: (name: string) => Uint8Array,
): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, rawSafetensors(text));
    for (const t of tensors) {
      const bytes = fill(t.name);
      const n = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
      if (bytes.length !== n) {
        throw new Error(`writeSafetensorsStreaming: ${t.name} got ${bytes.length} bytes, expected ${n}`);
      }
      writeSync(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a sharded checkpoint: `shards` lists the tensor names per shard; writes
 * model-0000i-of-0000n.safetensors and model.safetensors.index.json. Returns the shard file names.
 */
export function writeShardedSafetensors(dir: string, tensors: Record<string, TensorSpec>, shards: string[][]): string[] {
  mkdirSync(dir, { recursive: true });
  const n = shards.length;
  const names = shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((list, i) => {
    const part: Record<string, TensorSpec> = {};
    for (const name of list) {
      part[name] = tensors[name];
      weightMap[name] = names[i];
      total += encodeTensor(tensors[name]).length;
    }
    writeSafetensors(path.join(dir, names[i]), part);
  });
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return names;
}
