/**
 * @file Reads and validates the header of one GGUF file (v2/v3, little-endian): magic, version,
 * metadata (every value type, nested arrays), tensor infos, `general.alignment` and the data offset.
 *
 * As strict as the safetensors header validator: every count, string and array length is checked
 * against the bytes left in the file (and a limit) before anything is allocated for it; dims and byte
 * sizes are exact (BigInt) and refused past 2^53; tensor data must be aligned, inside the file and
 * tile the data area in offset order with only alignment padding between (llama.cpp's own rule);
 * names and keys are unique; unknown and unsupported ggml types are refused by name. llama.cpp's GGUF
 * CVEs (huge counts, string lengths and dims that overflow, out-of-file offsets, n_dims > 4,
 * duplicate names, zero alignment) each get one error here.
 */
import type { FileHandle } from 'node:fs/promises';
import { GgufCursor } from './cursor';
import {
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_MAX_NAME_BYTES,
  GgufValueType,
  SUPPORTED_TYPE_NAMES,
  VALUE_BYTES,
  isValueType,
  type GgmlType,
} from './types';

/** Numeric arrays come back as typed arrays (a vocabulary's scores and token types), strings and bools as arrays. */
export type GgufArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
  | BigUint64Array | BigInt64Array | string[] | boolean[] | GgufArrayEntry[];

/** One element of an array of arrays: its own item type and items. */
export interface GgufArrayEntry {
  itemType: GgufValueType;
  items: GgufArray;
}

/** 64-bit integers stay bigint (a u64 may not fit a number); the accessors in metadata.ts convert with checks. */
export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufEntry {
  key: string;
  type: GgufValueType;
  /** For arrays: the items' type. */
  itemType?: GgufValueType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  type: GgmlType;
  /** ggml's dimension order: ne[0] varies fastest (a row of a matrix). */
  ne: number[];
  /** Row-major shape as safetensors and PyTorch write it: ne reversed ([rows, cols] for a matrix, [E, rows, cols] for stacked experts). */
  shape: number[];
  elements: number;
  /** Offset relative to the data area, as stored. */
  offset: number;
  /** Absolute byte range in the file. */
  start: number;
  end: number;
}

export interface GgufHeader {
  file: string;
  fileSize: number;
  version: number;
  alignment: number;
  /** Absolute offset of the data area (after the tensor infos, aligned). */
  dataStart: number;
  metadata: Map<string, GgufEntry>;
  /** In the order the file lists them. */
  tensors: GgufTensorInfo[];
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Far above any real file (a few thousand tensors, a few hundred keys), low enough that a corrupt count is refused at once. */
export const MAX_TENSORS = 1_000_000;
export const MAX_KEYS = 1_000_000;
/** Items in one metadata array: vocabularies have ~256k tokens and merges; 16M leaves room and bounds what a bad count allocates. */
export const MAX_ARRAY_ITEMS = 1 << 24;
/** Arrays of arrays of arrays: the spec allows nesting, no real file nests deeper. */
const MAX_ARRAY_DEPTH = 3;
/** Smallest encodings, so a count can be checked against the bytes left before a loop runs. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1; // key length, 1-byte key, value type, 1-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8; // name length, 1-byte name, n_dims, one dim, type, offset

type ArrayCtor = new (buffer: ArrayBuffer) => Exclude<GgufArray, string[] | boolean[] | GgufArrayEntry[]>;

const TYPED: Partial<Record<GgufValueType, ArrayCtor>> = {
  [GgufValueType.UINT8]: Uint8Array,
  [GgufValueType.INT8]: Int8Array,
  [GgufValueType.UINT16]: Uint16Array,
  [GgufValueType.INT16]: Int16Array,
  [GgufValueType.UINT32]: Uint32Array,
  [GgufValueType.INT32]: Int32Array,
  [GgufValueType.FLOAT32]: Float32Array,
  [GgufValueType.FLOAT64]: Float64Array,
  [GgufValueType.UINT64]: BigUint64Array,
  [GgufValueType.INT64]: BigInt64Array,
};

export function valueTypeName(t: number): string {
  return isValueType(t) ? GgufValueType[t] : `unknown (${t})`;
}

async function readScalar(c: GgufCursor, type: GgufValueType, what: string): Promise<number | bigint | boolean> {
  switch (type) {
    case GgufValueType.UINT8: return c.scalar(1, what, (v, at) => v.getUint8(at));
    case GgufValueType.INT8: return c.scalar(1, what, (v, at) => v.getInt8(at));
    case GgufValueType.UINT16: return c.scalar(2, what, (v, at) => v.getUint16(at, true));
    case GgufValueType.INT16: return c.scalar(2, what, (v, at) => v.getInt16(at, true));
    case GgufValueType.UINT32: return c.scalar(4, what, (v, at) => v.getUint32(at, true));
    case GgufValueType.INT32: return c.scalar(4, what, (v, at) => v.getInt32(at, true));
    case GgufValueType.FLOAT32: return c.scalar(4, what, (v, at) => v.getFloat32(at, true));
    case GgufValueType.FLOAT64: return c.scalar(8, what, (v, at) => v.getFloat64(at, true));
    case GgufValueType.UINT64: return c.scalar(8, what, (v, at) => v.getBigUint64(at, true));
    case GgufValueType.INT64: return c.scalar(8, what, (v, at) => v.getBigInt64(at, true));
    case GgufValueType.BOOL: {
      const b = await c.u8(what);
      if (b > 1) {
        throw c.error(`${what} is a bool stored as ${b}; only 0 and 1 are valid`);
      }
      return b === 1;
    }
    default:
      throw c.error(`${what}: internal error: ${valueTypeName(type)} is not a scalar type`);
  }
}

async function readValueType(c: GgufCursor, what: string): Promise<GgufValueType> {
  const t = await c.u32(`${what}'s type`);
  if (!isValueType(t)) {
    throw c.error(`${what} has value type ${t}, which is not a GGUF type (0–12): corrupt file or a newer GGUF version`);
  }
  return t;
}

/** What to read: `skipArrays` steps over metadata arrays (vocabularies) after checking them, for a quick look at the scalar keys. */
export interface GgufReadOptions {
  skipArrays?: boolean;
}

async function readArray(c: GgufCursor, what: string, depth: number, skip = false): Promise<{ itemType: GgufValueType; items: GgufArray }> {
  if (depth > MAX_ARRAY_DEPTH) {
    throw c.error(`${what} nests arrays more than ${MAX_ARRAY_DEPTH} deep`);
  }
  const itemType = await readValueType(c, `${what}'s items`);
  const width = VALUE_BYTES[itemType] || (itemType === GgufValueType.STRING ? 8 : 12);
  const left = Math.max(0, c.remaining - 8);
  const maxItems = Math.min(MAX_ARRAY_ITEMS, Math.floor(left / width));
  const n = await c.count(
    `${what}'s item count`,
    maxItems,
    maxItems < MAX_ARRAY_ITEMS ? `more ${valueTypeName(itemType)} items than the ${left} bytes left in the file can hold (corrupt count?)` : `over the limit of ${MAX_ARRAY_ITEMS} items`,
  );
  if (skip) {
    if (itemType === GgufValueType.STRING) {
      await c.skipStrings(n, what);
    } else if (itemType === GgufValueType.ARRAY) {
      for (let i = 0; i < n; i++) {
        await readArray(c, `${what}[${i}]`, depth + 1, true);
      }
    } else {
      c.skip(n * width, what);
    }
    return { itemType, items: [] };
  }
  const Typed = TYPED[itemType];
  if (Typed) {
    return { itemType, items: new Typed(await c.array(n, width, what)) };
  }
  if (itemType === GgufValueType.BOOL) {
    const raw = new Uint8Array(await c.array(n, 1, what));
    const bad = raw.findIndex((b) => b > 1);
    if (bad >= 0) {
      throw c.error(`${what}[${bad}] is a bool stored as ${raw[bad]}; only 0 and 1 are valid`);
    }
    return { itemType, items: Array.from(raw, (b) => b === 1) };
  }
  if (itemType === GgufValueType.STRING) {
    return { itemType, items: await c.strings(n, what) };
  }
  const items: GgufArrayEntry[] = new Array<GgufArrayEntry>(n);
  for (let i = 0; i < n; i++) {
    items[i] = await readArray(c, `${what}[${i}]`, depth + 1);
  }
  return { itemType, items };
}

async function readEntry(c: GgufCursor, index: number, skipArrays: boolean): Promise<GgufEntry> {
  const key = await c.string(`metadata key #${index}`, true);
  if (key.length === 0) {
    throw c.error(`metadata key #${index} is empty`);
  }
  const what = `metadata ${JSON.stringify(key)}`;
  const type = await readValueType(c, what);
  if (type === GgufValueType.STRING) {
    return { key, type, value: await c.string(what, false) };
  }
  if (type === GgufValueType.ARRAY) {
    const { itemType, items } = await readArray(c, what, 1, skipArrays);
    return { key, type, itemType, value: items };
  }
  return { key, type, value: await readScalar(c, type, what) };
}

/** `general.alignment`: a u32 power of two (llama.cpp refuses anything else); 32 when absent. */
function alignmentOf(c: GgufCursor, metadata: Map<string, GgufEntry>): number {
  const e = metadata.get('general.alignment');
  if (!e) {
    return GGUF_DEFAULT_ALIGNMENT;
  }
  if (e.type !== GgufValueType.UINT32) {
    throw c.error(`metadata "general.alignment" is ${valueTypeName(e.type)}; it must be UINT32`);
  }
  const a = e.value as number;
  if (a === 0 || (a & (a - 1)) !== 0) {
    throw c.error(`metadata "general.alignment" is ${a}; it must be a power of two`);
  }
  return a;
}

interface RawTensorInfo {
  name: string;
  type: GgmlType;
  ne: number[];
  elements: number;
  bytes: number;
  offset: number;
}

async function readTensorInfo(c: GgufCursor, index: number, alignment: number): Promise<RawTensorInfo> {
  const name = await c.string(`tensor info #${index}'s name`, true);
  if (name.length === 0) {
    throw c.error(`tensor info #${index} has an empty name`);
  }
  if (Buffer.byteLength(name, 'utf8') > GGUF_MAX_NAME_BYTES) {
    throw c.error(`name is longer than ggml's ${GGUF_MAX_NAME_BYTES}-byte limit`, name);
  }
  const nDims = await c.u32(`tensor ${JSON.stringify(name)}'s dimension count`);
  if (nDims === 0 || nDims > GGUF_MAX_DIMS) {
    throw c.error(`has ${nDims} dimensions; ggml tensors have 1 to ${GGUF_MAX_DIMS}`, name);
  }
  const ne: number[] = [];
  let elements = 1n;
  for (let d = 0; d < nDims; d++) {
    const n = await c.u64(`tensor ${JSON.stringify(name)}'s dimension ${d}`);
    if (n === 0n) {
      throw c.error(`dimension ${d} is 0: an empty tensor is not a weight`, name);
    }
    if (n > SAFE) {
      throw c.error(`dimension ${d} is ${n}, past 2^53 (corrupt file?)`, name);
    }
    elements *= n;
    if (elements > SAFE) {
      throw c.error(`dimensions [${[...ne, n].join(', ')}${d + 1 < nDims ? ', …' : ''}] hold more than 2^53 elements (corrupt file?)`, name);
    }
    ne.push(Number(n));
  }
  const typeId = await c.u32(`tensor ${JSON.stringify(name)}'s type`);
  const type = GGML_TYPES.get(typeId);
  if (!type) {
    throw c.error(`has ggml type ${typeId}, which is not a type llama.cpp defines (a newer or corrupt file)`, name);
  }
  if (!type.supported) {
    throw c.error(`is stored as ${type.name}, which MoE Lens does not dequantise (it reads ${SUPPORTED_TYPE_NAMES.join(', ')}); re-quantise the model to one of those, e.g. Q4_K_M or Q8_0`, name);
  }
  if (ne[0] % type.blockSize !== 0) {
    throw c.error(`rows of ${ne[0]} values are not a whole number of ${type.name} blocks of ${type.blockSize}`, name);
  }
  const bytes = (elements / BigInt(type.blockSize)) * BigInt(type.typeSize);
  if (bytes > SAFE) {
    throw c.error(`${elements} ${type.name} values are ${bytes} bytes, past 2^53`, name);
  }
  const offset = await c.u64(`tensor ${JSON.stringify(name)}'s data offset`);
  if (offset > SAFE) {
    throw c.error(`data offset ${offset} is past 2^53 (corrupt file?)`, name);
  }
  if (offset % BigInt(alignment) !== 0n) {
    throw c.error(`data offset ${offset} is not a multiple of the alignment ${alignment}`, name);
  }
  return { name, type, ne, elements: Number(elements), bytes: Number(bytes), offset: Number(offset) };
}

/** Magic, version, counts and metadata; the cursor is left at the first tensor info. */
async function readPreamble(c: GgufCursor, opts: GgufReadOptions): Promise<{ version: number; tensorCount: number; metadata: Map<string, GgufEntry>; skippedArrays: string[] }> {
  const fileSize = c.fileSize;
  if (fileSize < 24) {
    throw c.error(`not a GGUF file: ${fileSize} bytes is shorter than the 24-byte GGUF header (truncated or empty file?)`);
  }
  const magic = await c.u32('the magic');
  if (magic !== GGUF_MAGIC) {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(magic);
    throw c.error(`not a GGUF file: it starts with ${JSON.stringify(head.toString('latin1'))}, not "GGUF"`);
  }
  const version = await c.u32('the version');
  if (version === 1) {
    throw c.error('GGUF version 1 (2023) is not supported: convert the model again with a current llama.cpp');
  }
  if (version === 0x02000000 || version === 0x03000000) {
    throw c.error('is a big-endian GGUF file; MoE Lens reads little-endian GGUF (the usual kind)');
  }
  if (version !== 2 && version !== 3) {
    throw c.error(`GGUF version ${version} is not supported (MoE Lens reads versions 2 and 3)`);
  }
  const tensorCount = await c.count(
    'the tensor count',
    Math.min(MAX_TENSORS, Math.floor(Math.max(0, c.remaining - 8) / MIN_TENSOR_INFO_BYTES)),
    `more tensor infos than the file can hold (corrupt header?)`,
  );
  const keyCount = await c.count(
    'the metadata key count',
    Math.min(MAX_KEYS, Math.floor(Math.max(0, c.remaining - tensorCount * MIN_TENSOR_INFO_BYTES) / MIN_KV_BYTES)),
    `more metadata entries than the file can hold (corrupt header?)`,
  );
  const metadata = new Map<string, GgufEntry>();
  const skippedArrays: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const e = await readEntry(c, i, opts.skipArrays ?? false);
    if (metadata.has(e.key) || skippedArrays.includes(e.key)) {
      throw c.error(`metadata key ${JSON.stringify(e.key)} appears twice`);
    }
    if (opts.skipArrays && e.type === GgufValueType.ARRAY) {
      skippedArrays.push(e.key);
    } else {
      metadata.set(e.key, e);
    }
  }
  return { version, tensorCount, metadata, skippedArrays };
}

/**
 * The metadata alone, checked as strictly as by `readGgufHeader`, for listing models: with
 * `skipArrays` (the default here) arrays such as the vocabulary are stepped over, not decoded, and
 * their keys are listed in `skippedArrays` instead of in `metadata`. Tensor infos are not read.
 */
export async function readGgufMetadata(fh: FileHandle, file: string, fileSize: number, opts: GgufReadOptions = { skipArrays: true }): Promise<{ version: number; tensorCount: number; metadata: Map<string, GgufEntry>; skippedArrays: string[] }> {
  return readPreamble(new GgufCursor(fh, file, fileSize), opts);
}

/** Reads and validates a GGUF header; `fileSize` is from fstat. Nothing of the tensor data is read. */
export async function readGgufHeader(fh: FileHandle, file: string, fileSize: number): Promise<GgufHeader> {
  const c = new GgufCursor(fh, file, fileSize);
  const { version, tensorCount, metadata } = await readPreamble(c, {});
  const alignment = alignmentOf(c, metadata);
  const raw: RawTensorInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const t = await readTensorInfo(c, i, alignment);
    if (seen.has(t.name)) {
      throw c.error('appears twice among the tensor infos', t.name);
    }
    seen.add(t.name);
    raw.push(t);
  }
  const dataStart = alignUp(c.pos, alignment);
  if (raw.length > 0 && dataStart > fileSize) {
    throw c.error(`the tensor data would start at byte ${dataStart}, past the end of the file (${fileSize} bytes; truncated?)`);
  }
  const tensors = raw.map((t) => ({
    name: t.name,
    type: t.type,
    ne: t.ne,
    shape: [...t.ne].reverse(),
    elements: t.elements,
    offset: t.offset,
    start: dataStart + t.offset,
    end: dataStart + t.offset + t.bytes,
  }));
  checkTiling(c, tensors, alignment, fileSize - dataStart);
  return { file, fileSize, version, alignment, dataStart, metadata, tensors };
}

/** Data inside the file and tiled in offset order with only alignment padding between tensors. */
function checkTiling(c: GgufCursor, tensors: GgufTensorInfo[], alignment: number, dataBytes: number): void {
  const order = [...tensors].sort((a, b) => a.offset - b.offset);
  let expected = 0;
  let prev: GgufTensorInfo | undefined;
  for (const t of order) {
    const size = t.end - t.start;
    if (t.offset < expected) {
      throw c.error(`data [${t.offset}, ${t.offset + size}) overlaps tensor ${JSON.stringify(prev?.name)}'s (which ends at ${prev ? prev.offset + (prev.end - prev.start) : 0})`, t.name);
    }
    if (t.offset > expected) {
      throw c.error(
        `data starts at offset ${t.offset}, leaving a gap of ${t.offset - expected} bytes after ${prev ? `tensor ${JSON.stringify(prev.name)}` : 'the start of the data'} (llama.cpp expects offset ${expected})`,
        t.name,
      );
    }
    if (t.offset + size > dataBytes) {
      throw c.error(`data [${t.offset}, ${t.offset + size}) runs past the end of the file (${dataBytes} bytes of data; truncated?)`, t.name);
    }
    expected = alignUp(t.offset + size, alignment);
    prev = t;
  }
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
