/**
 * @file Opens a safetensors checkpoint (one file or sharded with model.safetensors.index.json),
 * validates every header up front, then reads tensors by name with positioned reads of just that
 * tensor's bytes, so a multi-GB shard is never held in memory at once.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DTYPE_BYTES, findNonFinite, widen, type Dtype } from './dtypes';
import { CheckpointError, NonFiniteWeightsError, checkpointError } from './errors';
import { blockSpan, blocksFinite, dequantizeRange } from './gguf/dequant/index';
import { isBlockType, type BlockType } from './gguf/types';
import { INDEX_FILE, SINGLE_FILE, assertDirectory, listWeightFiles, pickleRefusal, readJsonFile, resolveInside } from './modelFolder';
import { readEnded, readStarted, timedWiden } from './readTimings';
import { readSafetensorsHeader, type SafetensorsHeader } from './safetensorsHeader';
import { isJsonObject } from './strictJson';

export { CheckpointError, NonFiniteWeightsError } from './errors';
export type { Dtype } from './dtypes';
export { findNonFinite } from './dtypes';

/** How a tensor is stored: a safetensors dtype, or a ggml block-quantised type (GGUF files). */
export type StoredType = Dtype | BlockType;

export interface TensorInfo {
  name: string;
  dtype: StoredType;
  shape: number[];
  file: string;
  /** absolute byte offsets in file */
  start: number;
  end: number;
}

export interface ReadOptions {
  /** Throw a CheckpointError naming the tensor and the first bad element if any value is NaN or ±Inf. */
  checkFinite?: boolean;
  /** Only elements [from, from + count) of the flattened tensor (one expert of a fused [E, …] tensor, rows of a matrix). */
  range?: { from: number; count: number };
}

export interface Checkpoint {
  readonly dir: string;
  /** Per-file `__metadata__` maps (null when a file has none), keyed by file path. */
  readonly metadata: ReadonlyMap<string, Readonly<Record<string, string>> | null>;
  names(): string[];
  has(name: string): boolean;
  /** CheckpointError naming the tensor when absent. */
  info(name: string): TensorInfo;
  /** F16/BF16/F64/int/bool/fp8 → float32; positioned read of that tensor (or of `opts.range`) only. */
  readFloat32(name: string, opts?: ReadOptions): Promise<Float32Array>;
  /** The stored bytes of a tensor, or of bytes [from, to) of it (one expert of a stacked tensor), unconverted; widen them with `widenStored`. */
  readRaw(name: string, from?: number, to?: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Default for every readFloat32 call's `checkFinite`. */
  checkFinite?: boolean;
}

const OPEN_NONBLOCKING = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

/** Reads are split so no single read call exceeds what the OS accepts (2 GB) and progress stays smooth. */
const READ_CHUNK = 64 * 1024 * 1024;

if (os.endianness() !== 'LE') {
  // safetensors is little-endian and the typed-array views below assume the host is too.
  throw new Error('MoE Lens checkpoint loading needs a little-endian machine');
}

/** Throws a CheckpointError naming the tensor, the element and how many are non-finite. */
export function assertFinite(info: Pick<TensorInfo, 'name' | 'file' | 'shape'>, data: Float32Array): void {
  const first = findNonFinite(data);
  if (first < 0) {
    return;
  }
  let count = 0;
  for (let i = first; i < data.length; i++) {
    if (data[i] - data[i] !== 0) {
      count++;
    }
  }
  const idx: number[] = [];
  let rem = first;
  for (let d = info.shape.length - 1; d >= 0; d--) {
    const size = info.shape[d];
    idx.unshift(size > 0 ? rem % size : 0);
    rem = size > 0 ? Math.floor(rem / size) : 0;
  }
  throw new NonFiniteWeightsError(info.file, info.name, `holds ${count} non-finite value${count === 1 ? '' : 's'} (first: ${String(data[first])} at [${idx.join(', ')}])`);
}

function allocate(t: TensorInfo, bytes: number): ArrayBuffer {
  try {
    return new ArrayBuffer(bytes);
  } catch {
    throw checkpointError(t.file, t.name, `${bytes} bytes are too many to load as one array on this machine`);
  }
}

/** Widens `count` values held at the front of `buf` (which has room for count float32s) in place. */
function widenChecked(t: TensorInfo & { dtype: Dtype }, buf: ArrayBuffer, count: number, check: boolean): Float32Array {
  const widened = timedWiden(() => widen(t.dtype, buf, count, check));
  if (!widened.finite) {
    assertFinite(t, widened.data); // the slow pass (count, first index) runs only on a bad tensor
  }
  // Wider inputs (F64, I64, U64) are copied out so the 8-byte buffer can be released.
  return DTYPE_BYTES[t.dtype] > 4 ? widened.data.slice() : widened.data;
}

/**
 * Elements [from, from + count) of a tensor held as stored (`readRaw`) → float32, exactly as
 * `readFloat32` would have read them from the file.
 */
export function widenStored(t: TensorInfo, stored: Uint8Array, from: number, count: number, checkFinite: boolean): Float32Array {
  if (isBlockType(t.dtype)) {
    const span = blockSpan(t.dtype, from, count);
    return dequantChecked({ ...t, dtype: t.dtype }, stored.subarray(span.byteFrom, span.byteTo), from, count, checkFinite);
  }
  const size = DTYPE_BYTES[t.dtype];
  const buf = allocate(t, count * Math.max(size, 4));
  new Uint8Array(buf).set(stored.subarray(from * size, (from + count) * size));
  return widenChecked({ ...t, dtype: t.dtype }, buf, count, checkFinite);
}

/** Elements [from, from + count) of a block-quantised tensor from the bytes of the blocks that hold them. */
function dequantChecked(t: TensorInfo & { dtype: BlockType }, spanBytes: Uint8Array, from: number, count: number, checkFinite: boolean): Float32Array {
  const data = timedWiden(() => dequantizeRange(t.dtype, spanBytes, from, count));
  if (checkFinite) {
    assertFinite(t, data); // a block scale of inf or NaN (f16) is the only way to get one
  }
  return data;
}

/** Elements a tensor holds (its shape's product). */
function elementsOf(t: Pick<TensorInfo, 'shape'>): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/**
 * Throws the CheckpointError `readFloat32` would if a tensor held as stored has a NaN or ±Inf, by
 * testing exponent bits (no widened copy is made unless one is bad and needs naming).
 */
export function assertStoredFinite(t: TensorInfo, stored: Uint8Array): void {
  if (isBlockType(t.dtype)) {
    if (!blocksFinite(t.dtype, stored)) {
      widenStored(t, stored, 0, elementsOf(t), true); // names the first bad element
    }
    return;
  }
  const count = stored.length / DTYPE_BYTES[t.dtype];
  let bad = false;
  if (t.dtype === 'BF16' || t.dtype === 'F16') {
    bad = !halvesFinite(stored, count, t.dtype === 'BF16' ? 0x7f80 : 0x7c00);
  } else if (t.dtype === 'F32') {
    bad = findNonFinite(new Float32Array(stored.buffer, stored.byteOffset, count)) >= 0;
  } else if (t.dtype === 'F64' || t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2') {
    bad = true; // rare in checkpoints: let the widening below decide
  }
  if (bad) {
    widenStored(t, stored, 0, count, true);
  }
}

/**
 * Whether no 16-bit float of `count` in `stored` has its exponent bits `exp` all ones (NaN, ±Inf).
 * Two at a time where aligned: adding the exponent's lowest bit carries into bit 15 of a half only
 * when its exponent is all ones, so one OR of the words collects every verdict.
 */
function halvesFinite(stored: Uint8Array, count: number, exp: number): boolean {
  const half = new Uint16Array(stored.buffer, stored.byteOffset, count);
  const low = exp & -exp;
  let acc = 0;
  let i = 0;
  if (stored.byteOffset % 4 === 0) {
    const words = new Uint32Array(stored.buffer, stored.byteOffset, count >>> 1);
    const mask = (exp << 16) | exp;
    const carry = (low << 16) | low;
    for (; i < words.length; i++) {
      acc |= (words[i] & mask) + carry;
    }
    if ((acc & 0x80008000) !== 0) {
      return false;
    }
    i *= 2;
  }
  for (acc = 0; i < count; i++) {
    acc |= (half[i] & exp) + low;
  }
  return (acc & 0x8000) === 0;
}

/** A checkpoint whose tensors are byte ranges of open files: safetensors shards, or GGUF files (gguf/open.ts). */
export class FileCheckpoint implements Checkpoint {
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly tensors: Map<string, TensorInfo>,
    protected readonly handles: Map<string, FileHandle>,
    readonly metadata: ReadonlyMap<string, Readonly<Record<string, string>> | null>,
    protected readonly defaults: OpenOptions,
  ) {}

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) {
      throw new CheckpointError(`${this.dir}: tensor ${JSON.stringify(name)} not found in the checkpoint (${this.tensors.size} tensors)`, { file: this.dir, tensor: name });
    }
    return t;
  }

  async readFloat32(name: string, opts: ReadOptions = {}): Promise<Float32Array> {
    const t = this.info(name);
    const total = elementsOf(t);
    const { from, count } = opts.range ?? { from: 0, count: total };
    if (!(Number.isInteger(from) && Number.isInteger(count) && from >= 0 && count >= 0 && from + count <= total)) {
      throw checkpointError(t.file, name, `elements [${from}, ${from + count}) are outside its ${total} elements (internal error)`);
    }
    const check = opts.checkFinite ?? this.defaults.checkFinite ?? false;
    if (isBlockType(t.dtype)) {
      // Only the blocks holding the range are read (one expert of a stacked tensor, rows of a matrix).
      const span = blockSpan(t.dtype, from, count);
      const bytes = new Uint8Array(allocate(t, span.byteTo - span.byteFrom));
      await this.readInto(t, bytes, t.start + span.byteFrom);
      return dequantChecked({ ...t, dtype: t.dtype }, bytes, from, count, check);
    }
    const size = DTYPE_BYTES[t.dtype];
    // The raw bytes are read into the front of the output's own buffer and widened in place.
    const buf = allocate(t, count * Math.max(size, 4));
    await this.readInto(t, new Uint8Array(buf, 0, count * size), t.start + from * size);
    return widenChecked({ ...t, dtype: t.dtype }, buf, count, check);
  }

  async readRaw(name: string, from = 0, to?: number): Promise<Uint8Array> {
    const t = this.info(name);
    const end = to ?? t.end - t.start;
    if (!(Number.isInteger(from) && Number.isInteger(end) && 0 <= from && from <= end && end <= t.end - t.start)) {
      throw checkpointError(t.file, name, `byte range [${from}, ${end}) is outside the tensor's ${t.end - t.start} bytes`);
    }
    const bytes = new Uint8Array(allocate(t, end - from));
    await this.readInto(t, bytes, t.start + from);
    return bytes;
  }

  /** Positioned reads of `into.length` bytes at file offset `offset`, in chunks the OS accepts. */
  private async readInto(t: TensorInfo, into: Uint8Array, offset: number): Promise<void> {
    if (this.closed) {
      throw checkpointError(t.file, t.name, 'checkpoint already closed');
    }
    const fh = this.handles.get(t.file);
    if (!fh) {
      throw checkpointError(t.file, t.name, 'file handle missing (internal error)');
    }
    let done = 0;
    readStarted();
    try {
      while (done < into.length) {
        const want = Math.min(READ_CHUNK, into.length - done);
        const { bytesRead } = await fh.read(into, done, want, offset + done);
        if (bytesRead === 0) {
          throw checkpointError(t.file, t.name, `file ended at byte ${offset + done} while reading bytes [${t.start}, ${t.end}) (was it changed since it was opened?)`);
        }
        done += bytesRead;
      }
    } finally {
      readEnded(done);
    }
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await Promise.all([...this.handles.values()].map((h) => h.close().catch(() => undefined)));
  }
}

/** Opens `file` into `handles` (closed with them) and returns its size; refuses what is not a regular file. */
export async function openRegularFile(file: string, handles: Map<string, FileHandle>): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    // Non-blocking open, then fstat: a file swapped for a FIFO since it was listed must not block.
    fh = await fsp.open(file, OPEN_NONBLOCKING);
  } catch (e) {
    throw new CheckpointError(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file });
  }
  handles.set(file, fh);
  const st = await fh.stat();
  if (!st.isFile()) {
    throw new CheckpointError(`${file}: not a regular file`, { file });
  }
  return { fh, size: st.size };
}

async function openShard(file: string, handles: Map<string, FileHandle>): Promise<SafetensorsHeader> {
  const { fh, size } = await openRegularFile(file, handles);
  return readSafetensorsHeader(fh, file, size);
}

/** Which files hold the weights: the index's shards, model.safetensors, or every *.safetensors. */
async function planFiles(dir: string): Promise<{ files: string[]; weightMap: Map<string, string> | null; indexFile: string | null }> {
  const listing = await listWeightFiles(dir);
  if (listing.hasIndex) {
    const indexFile = path.join(dir, INDEX_FILE);
    const json = await readJsonFile(indexFile, 'safetensors index');
    if (!isJsonObject(json)) {
      throw new CheckpointError(`${indexFile}: must be a JSON object with a "weight_map"`, { file: indexFile });
    }
    const wm = json['weight_map'];
    if (!isJsonObject(wm)) {
      throw new CheckpointError(`${indexFile}: "weight_map" is ${wm === undefined ? 'missing' : 'not an object'}; it must map tensor names to shard file names`, { file: indexFile });
    }
    if (json['metadata'] !== undefined && json['metadata'] !== null && !isJsonObject(json['metadata'])) {
      throw new CheckpointError(`${indexFile}: "metadata" must be an object`, { file: indexFile });
    }
    const weightMap = new Map<string, string>();
    const shardNames = new Map<string, string>();
    for (const [tensor, shard] of Object.entries(wm)) {
      if (typeof shard !== 'string') {
        throw new CheckpointError(`${indexFile}: tensor ${JSON.stringify(tensor)}: shard is not a file name string`, { file: indexFile, tensor });
      }
      if (!shardNames.has(shard)) {
        if (!shard.endsWith('.safetensors')) {
          throw new CheckpointError(
            `${indexFile}: tensor ${JSON.stringify(tensor)}: shard ${JSON.stringify(shard)} is not a .safetensors file` +
              (/\.(bin|pt|pth|ckpt|pkl)$/.test(shard) ? ' (pickle weights are never loaded: convert the checkpoint to safetensors)' : ''),
            { file: indexFile, tensor },
          );
        }
        shardNames.set(shard, await resolveInside(dir, shard, indexFile));
      }
      weightMap.set(tensor, shardNames.get(shard) as string);
    }
    if (weightMap.size === 0) {
      throw new CheckpointError(`${indexFile}: "weight_map" lists no tensors`, { file: indexFile });
    }
    return { files: [...shardNames.values()], weightMap, indexFile };
  }
  const chosen = listing.safetensors.includes(SINGLE_FILE) ? [SINGLE_FILE] : listing.safetensors;
  if (chosen.length === 0) {
    if (listing.pickles.length > 0) {
      throw pickleRefusal(dir, listing.pickles);
    }
    throw new CheckpointError(`${dir}: no weights found (expected ${SINGLE_FILE} or ${INDEX_FILE} with its shards)`, { file: dir });
  }
  const files: string[] = [];
  for (const name of chosen) {
    files.push(await resolveInside(dir, name, path.join(dir, name)));
  }
  return { files, weightMap: null, indexFile: null };
}

/** Opens and validates every weight file of the model folder `dir` (headers only). */
export async function openCheckpoint(dir: string, opts: OpenOptions = {}): Promise<Checkpoint> {
  await assertDirectory(dir);
  const { files, weightMap, indexFile } = await planFiles(dir);
  const handles = new Map<string, FileHandle>();
  try {
    const headers: SafetensorsHeader[] = [];
    for (const f of files) {
      headers.push(await openShard(f, handles));
    }
    const tensors = new Map<string, TensorInfo>();
    const metadata = new Map<string, Record<string, string> | null>();
    for (const h of headers) {
      metadata.set(h.file, h.metadata);
    }
    if (weightMap && indexFile) {
      const byFile = new Map(headers.map((h) => [h.file, h]));
      for (const [name, file] of weightMap) {
        const t = (byFile.get(file) as SafetensorsHeader).tensors.get(name);
        if (!t) {
          throw new CheckpointError(
            `${indexFile}: tensor ${JSON.stringify(name)} is listed in shard ${path.basename(file)}, but that shard has no such tensor`,
            { file: indexFile, tensor: name },
          );
        }
        tensors.set(name, { ...t, file });
      }
    } else {
      for (const h of headers) {
        for (const t of h.tensors.values()) {
          const other = tensors.get(t.name);
          if (other) {
            throw checkpointError(h.file, t.name, `also present in ${other.file}; with no index file the tensor is ambiguous`);
          }
          tensors.set(t.name, { ...t, file: h.file });
        }
      }
    }
    return new FileCheckpoint(dir, tensors, handles, metadata, opts);
  } catch (e) {
    await Promise.all([...handles.values()].map((h) => h.close().catch(() => undefined)));
    throw e;
  }
}
