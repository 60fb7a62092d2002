/**
 * @file Reads and validates the header of one .safetensors file, reading only the first 8 + N bytes.
 *
 * Layout: u64 little-endian N, then N bytes of UTF-8 JSON mapping tensor names to
 * {dtype, shape, data_offsets: [begin, end)} (offsets relative to the data after the header), and an
 * optional "__metadata__" string→string map; then the data. We check everything the reference
 * parser (huggingface/safetensors) checks, and more: exact integer arithmetic, duplicate keys, and
 * that the tensors tile the data area exactly, so a damaged file fails here with a message instead
 * of producing garbage weights later.
 */
import type { FileHandle } from 'node:fs/promises';
import { DTYPE_BYTES, KNOWN_DTYPES, isDtype, type Dtype } from './dtypes';
import { checkpointError } from './errors';
import { JsonSyntaxError, isJsonObject, parseStrictJson, type JsonValue } from './strictJson';

/** The reference parser's limit; real headers are well under 1 MB even for thousands of tensors. */
export const MAX_HEADER_BYTES = 100_000_000;
const MAX_RANK = 32;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface HeaderTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file: [start, end). */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Where the data area starts (8 + header length). */
  dataStart: number;
  metadata: Record<string, string> | null;
  tensors: Map<string, HeaderTensor>;
}

async function readExactly(fh: FileHandle, file: string, length: number, position: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      throw checkpointError(file, undefined, `file ended after ${position + done} bytes while reading ${length} bytes at offset ${position} (was it truncated or changed while loading?)`);
    }
    done += bytesRead;
  }
  return buf;
}

export { readExactly };

/** Reads and validates the header; `fileSize` is the size from fstat. */
export async function readSafetensorsHeader(fh: FileHandle, file: string, fileSize: number): Promise<SafetensorsHeader> {
  const err = (what: string, tensor?: string) => checkpointError(file, tensor, what);
  if (fileSize < 8) {
    throw err(`not a safetensors file: ${fileSize} bytes is shorter than the 8-byte header length (truncated or empty file?)`);
  }
  const lenBytes = await readExactly(fh, file, 8, 0);
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  // Check the claimed length before allocating anything for it.
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw err(`header length ${headerLen} bytes exceeds the 100 MB limit (corrupt file, or not a safetensors file)`);
  }
  if (headerLen > BigInt(fileSize - 8)) {
    throw err(`header length ${headerLen} bytes runs past the end of the file (${fileSize} bytes; the file may be truncated)`);
  }
  const n = Number(headerLen);
  if (n < 2) {
    throw err(`header length ${n} bytes is too short for a JSON object`);
  }
  const raw = await readExactly(fh, file, n, 8);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw err('header is not valid UTF-8');
  }
  if (text.charCodeAt(0) !== 0x7b) {
    throw err(`header does not start with '{' (starts with ${JSON.stringify(text.slice(0, 16))}): not a safetensors file`);
  }
  let json: JsonValue;
  try {
    // The reference writer pads the header with trailing spaces to align the data; JSON allows that.
    json = parseStrictJson(text, { exactIntegers: true, maxDepth: 8 });
  } catch (e) {
    if (e instanceof JsonSyntaxError) {
      throw err(`header is not valid JSON: ${e.message}`);
    }
    throw e;
  }
  if (!isJsonObject(json)) {
    throw err('header is not a JSON object');
  }

  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, HeaderTensor>();
  const rel = new Map<string, [number, number]>();

  for (const name of Object.keys(json)) {
    const entry = json[name];
    if (name === '__metadata__') {
      if (!isJsonObject(entry)) {
        throw err('"__metadata__" must be an object mapping strings to strings');
      }
      metadata = {};
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') {
          throw err(`"__metadata__" value for key ${JSON.stringify(k)} is ${describeJson(v)}, not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    if (name.length === 0) {
      throw err('a tensor has an empty name');
    }
    if (!isJsonObject(entry)) {
      throw err(`entry is ${describeJson(entry)}, not an object with dtype, shape and data_offsets`, name);
    }
    const dtypeV = entry['dtype'];
    if (typeof dtypeV !== 'string') {
      throw err(dtypeV === undefined ? 'missing "dtype"' : `"dtype" is ${describeJson(dtypeV)}, not a string`, name);
    }
    if (!isDtype(dtypeV)) {
      throw err(`unknown dtype ${JSON.stringify(dtypeV)} (known: ${KNOWN_DTYPES.join(', ')})`, name);
    }
    const shapeV = entry['shape'];
    if (!Array.isArray(shapeV)) {
      throw err(shapeV === undefined ? 'missing "shape"' : `"shape" is ${describeJson(shapeV)}, not an array`, name);
    }
    if (shapeV.length > MAX_RANK) {
      throw err(`shape has ${shapeV.length} dimensions (more than ${MAX_RANK})`, name);
    }
    let elements = 1n;
    const shape: number[] = [];
    for (const d of shapeV) {
      if (typeof d !== 'bigint') {
        throw err(`shape ${showArray(shapeV)} has ${describeJson(d)}; dimensions must be non-negative integers`, name);
      }
      if (d < 0n) {
        throw err(`shape ${showArray(shapeV)} has a negative dimension`, name);
      }
      if (d > SAFE) {
        throw err(`shape ${showArray(shapeV)} has a dimension past 2^53`, name);
      }
      elements *= d;
      shape.push(Number(d));
    }
    const bytes = elements * BigInt(DTYPE_BYTES[dtypeV]);
    if (bytes > SAFE) {
      throw err(`shape ${showArray(shapeV)} × ${dtypeV} is ${bytes} bytes, past 2^53`, name);
    }
    const offV = entry['data_offsets'];
    if (!Array.isArray(offV) || offV.length !== 2) {
      throw err(offV === undefined ? 'missing "data_offsets"' : `"data_offsets" is ${describeJson(offV)}, not [begin, end]`, name);
    }
    const [b, e] = offV;
    for (const o of [b, e]) {
      if (typeof o !== 'bigint' || o < 0n) {
        throw err(`"data_offsets" ${showArray(offV)} must be two non-negative integers`, name);
      }
      if (o > SAFE) {
        throw err(`"data_offsets" ${showArray(offV)} has an offset past 2^53`, name);
      }
    }
    const begin = Number(b as bigint);
    const end = Number(e as bigint);
    if (end < begin) {
      throw err(`"data_offsets" ${showArray(offV)} end before they begin`, name);
    }
    if (BigInt(end - begin) !== bytes) {
      throw err(`shape ${showArray(shapeV)} × ${dtypeV} (${DTYPE_BYTES[dtypeV]} bytes) is ${bytes} bytes but "data_offsets" ${showArray(offV)} span ${end - begin}`, name);
    }
    if (end > dataLen) {
      throw err(`"data_offsets" ${showArray(offV)} run past the end of the data (${dataLen} bytes after the header; the file may be truncated)`, name);
    }
    rel.set(name, [begin, end]);
    tensors.set(name, { name, dtype: dtypeV, shape, start: dataStart + begin, end: dataStart + end });
  }

  // The tensors must tile [0, dataLen) exactly: a gap or overlap means a corrupt or hand-edited file.
  const order = [...rel.entries()].sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]);
  let expected = 0;
  let prev: string | undefined;
  for (const [name, [begin, end]] of order) {
    if (begin < expected) {
      throw err(`"data_offsets" [${begin}, ${end}] overlap those of tensor ${JSON.stringify(prev)} (which ends at ${expected})`, name);
    }
    if (begin > expected) {
      throw err(`"data_offsets" [${begin}, ${end}] leave a gap of ${begin - expected} bytes after ${prev === undefined ? 'the header' : `tensor ${JSON.stringify(prev)}`}`, name);
    }
    expected = end;
    prev = name;
  }
  if (expected !== dataLen) {
    throw err(`${dataLen - expected} trailing bytes after the last tensor's data (the tensors cover ${expected} of ${dataLen} data bytes)`);
  }
  return { file, fileSize, dataStart, metadata, tensors };
}

function describeJson(v: JsonValue | undefined): string {
  if (v === undefined) {
    return 'missing';
  }
  if (v === null) {
    return 'null';
  }
  if (Array.isArray(v)) {
    return 'an array';
  }
  if (typeof v === 'bigint') {
    return `the integer ${v}`;
  }
  if (typeof v === 'number') {
    return `the number ${v}`;
  }
  if (typeof v === 'string') {
    return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  }
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function showArray(a: JsonValue[]): string {
  const parts = a.slice(0, 8).map((x) => (typeof x === 'bigint' ? x.toString() : typeof x === 'string' ? JSON.stringify(x) : x === null ? 'null' : typeof x === 'object' ? (Array.isArray(x) ? '[…]' : '{…}') : String(x)));
  return `[${parts.join(', ')}${a.length > 8 ? ', …' : ''}]`;
}
