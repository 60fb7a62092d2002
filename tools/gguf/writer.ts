/**
 * @file Writes GGUF files (v3 by default) for tests, benchmarks and tools: metadata of every value
 * type, tensors given as float values (F32/F16/BF16/F64/I*, and Q8_0/Q4_0 through the quantisers in
 * quantize.ts), as raw stored bytes, or as a stream of byte chunks (multi-GB files without holding
 * them). `buildGguf` also returns where each header field lies, so the fuzz suite can damage a
 * valid file at every structural boundary.
 *
 * Shapes are given row-major, as safetensors/PyTorch write them ([rows, cols]; [E, rows, cols] for
 * stacked experts); the file stores ggml's ne (the reverse).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { GgufValueType, ggmlType, isBlockType, type GgmlTypeName } from '../../src/engine/checkpoint/gguf/types';
import { toBf16, toF16 } from '../../test/helpers/writeSafetensors';
import { quantize } from './quantize';

/** A metadata value with its GGUF type spelled out. */
export interface TypedValue {
  type: GgufValueType;
  value: number | bigint | boolean | string | readonly TypedValue[] | ArrayLike<number> | ArrayLike<bigint> | readonly string[] | readonly boolean[];
  /** For arrays. */
  itemType?: GgufValueType;
}

/**
 * A metadata value: typed (see `gv`), or plain and inferred — string → STRING, boolean → BOOL,
 * integer ≥ 0 → UINT32, negative integer → INT32, other number → FLOAT32, bigint → UINT64,
 * string[] → array of STRING, number[] → array of INT32 (all integers) or FLOAT32,
 * Float32Array/Int32Array/Uint8Array… → array of that type.
 */
export type MetaValue = TypedValue | string | boolean | number | bigint | readonly string[] | readonly number[] | Float32Array | Int32Array | Uint32Array | Uint8Array;

/** Typed metadata constructors: gv.u64(5n), gv.array(GgufValueType.STRING, ['a']), … */
export const gv = {
  u8: (v: number): TypedValue => ({ type: GgufValueType.UINT8, value: v }),
  i8: (v: number): TypedValue => ({ type: GgufValueType.INT8, value: v }),
  u16: (v: number): TypedValue => ({ type: GgufValueType.UINT16, value: v }),
  i16: (v: number): TypedValue => ({ type: GgufValueType.INT16, value: v }),
  u32: (v: number): TypedValue => ({ type: GgufValueType.UINT32, value: v }),
  i32: (v: number): TypedValue => ({ type: GgufValueType.INT32, value: v }),
  f32: (v: number): TypedValue => ({ type: GgufValueType.FLOAT32, value: v }),
  f64: (v: number): TypedValue => ({ type: GgufValueType.FLOAT64, value: v }),
  u64: (v: bigint | number): TypedValue => ({ type: GgufValueType.UINT64, value: BigInt(v) }),
  i64: (v: bigint | number): TypedValue => ({ type: GgufValueType.INT64, value: BigInt(v) }),
  bool: (v: boolean): TypedValue => ({ type: GgufValueType.BOOL, value: v }),
  str: (v: string): TypedValue => ({ type: GgufValueType.STRING, value: v }),
  /** Items are plain values of `itemType`, or TypedValues of type ARRAY for an array of arrays. */
  array: (itemType: GgufValueType, items: TypedValue['value']): TypedValue => ({ type: GgufValueType.ARRAY, itemType, value: items }),
};

export interface GgufTensorSpec {
  name: string;
  type: GgmlTypeName;
  /** Row-major shape (ne reversed). */
  shape: number[];
  /** Values, converted to `type` (block types: Q8_0 and Q4_0 only, see quantize.ts). */
  values?: ArrayLike<number>;
  /** The stored bytes exactly (any type; e.g. `randomBlocks`). */
  raw?: Uint8Array;
  /** The stored bytes as chunks, produced while writing (files too big to hold). */
  chunks?: () => Iterable<Uint8Array>;
}

export interface GgufWriteOptions {
  version?: number;
  /** Written as general.alignment (UINT32) when not 32; the data is aligned to it either way. */
  alignment?: number;
}

/** Where the fields of a built file lie (absolute byte offsets), for damaging it on purpose. */
export interface GgufLayout {
  version: number;
  tensorCount: number;
  keyCount: number;
  keys: { key: string; at: number; typeAt: number; valueAt: number; end: number }[];
  tensors: { name: string; at: number; nDimsAt: number; dimsAt: number; typeAt: number; offsetAt: number; end: number; dataStart: number; dataEnd: number }[];
  /** End of the tensor infos (before padding). */
  infosEnd: number;
  dataStart: number;
  fileSize: number;
}

function typed(v: MetaValue): TypedValue {
  if (typeof v === 'string') return gv.str(v);
  if (typeof v === 'boolean') return gv.bool(v);
  if (typeof v === 'bigint') return gv.u64(v);
  if (typeof v === 'number') return Number.isInteger(v) ? (v >= 0 ? gv.u32(v) : gv.i32(v)) : gv.f32(v);
  if (v instanceof Float32Array) return gv.array(GgufValueType.FLOAT32, v);
  if (v instanceof Int32Array) return gv.array(GgufValueType.INT32, v);
  if (v instanceof Uint32Array) return gv.array(GgufValueType.UINT32, v);
  if (v instanceof Uint8Array) return gv.array(GgufValueType.UINT8, v);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return gv.array(GgufValueType.STRING, v as string[]);
    const nums = v as readonly number[];
    return gv.array(nums.every((x) => Number.isInteger(x)) ? GgufValueType.INT32 : GgufValueType.FLOAT32, nums);
  }
  return v as TypedValue;
}

/** Little-endian byte sink: one buffer that doubles when full (a 150k-token vocabulary is 300k writes). */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  /** Where the last `at` reserved its bytes. */
  last = 0;

  /** Reserves n bytes (growing first, so the buffer returned is the one to write) at `last`. */
  private at(n: number): Buffer {
    this.last = this.room(n);
    return this.buf;
  }

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  push(b: Uint8Array): void {
    this.at(b.length).set(b, this.last);
  }

  u32(n: number): void {
    this.at(4).writeUInt32LE(n >>> 0, this.last);
  }

  u64(n: number | bigint): void {
    this.at(8).writeBigUInt64LE(BigInt(n), this.last);
  }

  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u64(n);
    this.at(n).write(s, this.last, 'utf8');
  }

  scalar(type: GgufValueType, v: unknown): void {
    switch (type) {
      case GgufValueType.UINT8: this.at(1).writeUInt8(v as number, this.last); break;
      case GgufValueType.INT8: this.at(1).writeInt8(v as number, this.last); break;
      case GgufValueType.UINT16: this.at(2).writeUInt16LE(v as number, this.last); break;
      case GgufValueType.INT16: this.at(2).writeInt16LE(v as number, this.last); break;
      case GgufValueType.UINT32: this.at(4).writeUInt32LE(v as number, this.last); break;
      case GgufValueType.INT32: this.at(4).writeInt32LE(v as number, this.last); break;
      case GgufValueType.FLOAT32: this.at(4).writeFloatLE(v as number, this.last); break;
      case GgufValueType.FLOAT64: this.at(8).writeDoubleLE(v as number, this.last); break;
      case GgufValueType.UINT64: this.at(8).writeBigUInt64LE(BigInt(v as bigint), this.last); break;
      case GgufValueType.INT64: this.at(8).writeBigInt64LE(BigInt(v as bigint), this.last); break;
      case GgufValueType.BOOL: this.at(1).writeUInt8(v ? 1 : 0, this.last); break;
      default: throw new Error(`not a scalar GGUF type: ${type}`);
    }
  }

  value(t: TypedValue): void {
    if (t.type === GgufValueType.STRING) {
      this.str(t.value as string);
    } else if (t.type === GgufValueType.ARRAY) {
      const itemType = t.itemType as GgufValueType;
      const items = t.value as ArrayLike<unknown>;
      this.u32(itemType);
      this.u64(items.length);
      for (let i = 0; i < items.length; i++) {
        const x = items[i];
        if (itemType === GgufValueType.ARRAY) {
          const inner = x as TypedValue;
          this.u32(inner.itemType as GgufValueType);
          const innerItems = inner.value as ArrayLike<unknown>;
          this.u64(innerItems.length);
          for (let j = 0; j < innerItems.length; j++) {
            this.item(inner.itemType as GgufValueType, innerItems[j]);
          }
        } else {
          this.item(itemType, x);
        }
      }
    } else {
      this.scalar(t.type, t.value);
    }
  }

  private item(type: GgufValueType, x: unknown): void {
    if (type === GgufValueType.STRING) {
      this.str(x as string);
    } else if (type === GgufValueType.ARRAY) {
      this.value(x as TypedValue);
    } else {
      this.scalar(type, x);
    }
  }

  concat(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Stored bytes of a tensor of `type` with `count` elements. */
export function storedBytes(type: GgmlTypeName, count: number): number {
  const t = ggmlType(type);
  if (count % t.blockSize !== 0) {
    throw new Error(`${count} values are not a whole number of ${type} blocks of ${t.blockSize}`);
  }
  return (count / t.blockSize) * t.typeSize;
}

/** Values → stored bytes of a plain type, or Q8_0/Q4_0 (quantize.ts). */
export function encodeValues(type: GgmlTypeName, values: ArrayLike<number>): Uint8Array {
  if (isBlockType(type)) {
    return quantize(type, values);
  }
  const n = values.length;
  const width = ggmlType(type).typeSize;
  const b = Buffer.alloc(n * width);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (type) {
      case 'F32': b.writeFloatLE(v, i * 4); break;
      case 'F16': b.writeUInt16LE(toF16(v), i * 2); break;
      case 'BF16': b.writeUInt16LE(toBf16(v), i * 2); break;
      case 'F64': b.writeDoubleLE(v, i * 8); break;
      case 'I8': b.writeInt8(v, i); break;
      case 'I16': b.writeInt16LE(v, i * 2); break;
      case 'I32': b.writeInt32LE(v, i * 4); break;
      case 'I64': b.writeBigInt64LE(BigInt(v), i * 8); break;
    }
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function tensorBytes(t: GgufTensorSpec): { size: number; data?: Uint8Array } {
  const count = t.shape.reduce((a, b) => a * b, 1);
  const size = storedBytes(t.type, count);
  const data = t.raw ?? (t.values ? encodeValues(t.type, t.values) : undefined);
  if (data && data.length !== size) {
    throw new Error(`tensor ${t.name}: ${data.length} bytes given, ${size} expected for ${t.type} [${t.shape.join(', ')}]`);
  }
  if (!data && !t.chunks) {
    throw new Error(`tensor ${t.name}: give values, raw or chunks`);
  }
  return { size, data };
}

/** The header (magic … tensor infos, padded) and layout; tensor data follows at layout.dataStart. */
function buildHeader(meta: Record<string, MetaValue>, tensors: readonly GgufTensorSpec[], sizes: number[], opts: GgufWriteOptions): { header: Buffer; layout: GgufLayout } {
  const version = opts.version ?? 3;
  const alignment = opts.alignment ?? 32;
  const entries = Object.entries(meta);
  if (alignment !== 32 && !('general.alignment' in meta)) {
    entries.push(['general.alignment', gv.u32(alignment)]);
  }
  const out = new Bytes();
  out.u32(0x46554747);
  out.u32(version);
  out.u64(tensors.length);
  out.u64(entries.length);
  const keys: GgufLayout['keys'] = [];
  for (const [key, v] of entries) {
    const at = out.length;
    out.str(key);
    const typeAt = out.length;
    const t = typed(v);
    out.u32(t.type);
    const valueAt = out.length;
    out.value(t);
    keys.push({ key, at, typeAt, valueAt, end: out.length });
  }
  const infos: GgufLayout['tensors'] = [];
  let offset = 0;
  tensors.forEach((t, i) => {
    const at = out.length;
    out.str(t.name);
    const nDimsAt = out.length;
    out.u32(t.shape.length);
    const dimsAt = out.length;
    for (const d of [...t.shape].reverse()) {
      out.u64(d);
    }
    const typeAt = out.length;
    out.u32(ggmlType(t.type).id);
    const offsetAt = out.length;
    out.u64(offset);
    infos.push({ name: t.name, at, nDimsAt, dimsAt, typeAt, offsetAt, end: out.length, dataStart: offset, dataEnd: offset + sizes[i] });
    offset = Math.ceil((offset + sizes[i]) / alignment) * alignment;
  });
  const infosEnd = out.length;
  const dataStart = Math.ceil(infosEnd / alignment) * alignment;
  out.push(Buffer.alloc(dataStart - infosEnd));
  for (const t of infos) {
    t.dataStart += dataStart;
    t.dataEnd += dataStart;
  }
  const last = infos.length ? infos[infos.length - 1].dataEnd : dataStart;
  const layout: GgufLayout = { version, tensorCount: tensors.length, keyCount: entries.length, keys, tensors: infos, infosEnd, dataStart, fileSize: last };
  return { header: out.concat(), layout };
}

/** A whole GGUF file in memory, with its layout (tensors given as values or raw bytes). */
export function buildGguf(meta: Record<string, MetaValue>, tensors: readonly GgufTensorSpec[], opts: GgufWriteOptions = {}): { bytes: Buffer; layout: GgufLayout } {
  const parts = tensors.map(tensorBytes);
  const { header, layout } = buildHeader(meta, tensors, parts.map((p) => p.size), opts);
  const file = Buffer.alloc(layout.fileSize);
  header.copy(file, 0);
  tensors.forEach((t, i) => {
    const data = parts[i].data ?? Buffer.concat([...(t.chunks as () => Iterable<Uint8Array>)()]);
    file.set(data, layout.tensors[i].dataStart);
  });
  return { bytes: file, layout };
}

/** Writes a GGUF file, streaming tensor data (values, raw bytes or chunks) so nothing holds the whole file. */
export function writeGguf(file: string, meta: Record<string, MetaValue>, tensors: readonly GgufTensorSpec[], opts: GgufWriteOptions = {}): GgufLayout {
  const sizes = tensors.map((t) => storedBytes(t.type, t.shape.reduce((a, b) => a * b, 1)));
  const { header, layout } = buildHeader(meta, tensors, sizes, opts);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, header);
    let pos = header.length;
    tensors.forEach((t, i) => {
      const info = layout.tensors[i];
      if (info.dataStart > pos) {
        writeSync(fd, Buffer.alloc(info.dataStart - pos));
        pos = info.dataStart;
      }
      let written = 0;
      const emit = (chunk: Uint8Array): void => {
        writeSync(fd, chunk);
        written += chunk.length;
      };
      if (t.chunks && !t.raw && !t.values) {
        for (const c of t.chunks()) {
          emit(c);
        }
      } else {
        emit(tensorBytes(t).data as Uint8Array);
      }
      if (written !== sizes[i]) {
        throw new Error(`tensor ${t.name}: ${written} bytes written, ${sizes[i]} expected for ${t.type} [${t.shape.join(', ')}]`);
      }
      pos += written;
    });
  } finally {
    closeSync(fd);
  }
  return layout;
}
