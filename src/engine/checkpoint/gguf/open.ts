/**
 * @file Opens a GGUF model (one file, or the `…-00001-of-0000N.gguf` splits of one) as a Checkpoint:
 * every header validated up front, then tensors read by name with positioned reads of just their
 * bytes (or of the blocks that hold a range), exactly like safetensors, so layer streaming and the
 * memory budget apply unchanged. Tensor names stay GGUF's (`blk.0.ffn_gate_exps.weight`); shapes are
 * row-major (ggml's ne reversed), so a stacked expert tensor is [E, rows, cols] and one expert is a
 * contiguous range.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { FileCheckpoint, openRegularFile, type OpenOptions, type StoredType, type TensorInfo } from '../checkpoint';
import { DTYPE_BYTES } from '../dtypes';
import { CheckpointError, checkpointError } from '../errors';
import { readGgufHeader, type GgufEntry, type GgufHeader, type GgufTensorInfo } from './reader';
import { metaInt } from './metadata';
import { blockGeometry, isBlockType } from './types';

/** llama.cpp's split naming (gguf-split): PREFIX-00001-of-00003.gguf. */
const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

export class GgufCheckpoint extends FileCheckpoint {
  constructor(
    file: string,
    tensors: Map<string, TensorInfo>,
    handles: Map<string, FileHandle>,
    /** One per file, in split order. */
    readonly headers: readonly GgufHeader[],
    private readonly ggufTensors: Map<string, GgufTensorInfo>,
    opts: OpenOptions,
  ) {
    super(file, tensors, handles, new Map(headers.map((h) => [h.file, null])), opts);
  }

  /** The model's metadata: the first file's (later splits carry only split.* keys). */
  get ggufMetadata(): ReadonlyMap<string, GgufEntry> {
    return this.headers[0].metadata;
  }

  /** The GGUF tensor info (ggml type, ne in ggml order) of a tensor; CheckpointError when absent. */
  ggufTensor(name: string): GgufTensorInfo {
    this.info(name); // the not-found error
    return this.ggufTensors.get(name) as GgufTensorInfo;
  }

  /**
   * The same open files seen as other tensors: a renamed tensor, or one entry of a stacked tensor
   * (`entryInfo`), each a byte range of this checkpoint's tensor data, read with positioned reads
   * like any tensor (zero copies). The view takes the files over: close the view, not this.
   */
  view(tensors: ReadonlyMap<string, TensorInfo>): FileCheckpoint {
    for (const t of tensors.values()) {
      const h = this.headers.find((x) => x.file === t.file);
      const bytes = storedBytes(t.dtype, t.shape.reduce((a, b) => a * b, 1));
      if (!h || t.start < h.dataStart || t.end > h.fileSize || t.end - t.start !== bytes) {
        throw checkpointError(t.file, t.name, `view of [${t.start}, ${t.end}) as ${t.dtype} [${t.shape.join(', ')}] is not inside this checkpoint's tensor data (internal error)`);
      }
    }
    return new FileCheckpoint(this.dir, new Map(tensors), this.handles, this.metadata, this.defaults);
  }
}

/** Bytes a tensor of `dtype` with `count` elements takes as stored; a block type's count must be whole blocks. */
export function storedBytes(dtype: StoredType, count: number): number {
  if (isBlockType(dtype)) {
    const { blockSize, typeSize } = blockGeometry(dtype);
    return count % blockSize === 0 ? (count / blockSize) * typeSize : NaN;
  }
  return count * DTYPE_BYTES[dtype];
}

/**
 * Entry `index` along the first axis of `t` (one expert of a stacked [E, rows, cols] tensor) as a
 * tensor of its own, named `name`: its byte range within `t` (whole blocks, since rows are).
 */
export function entryInfo(t: TensorInfo, index: number, name: string): TensorInfo {
  const [count, ...rest] = t.shape;
  if (!(Number.isInteger(index) && index >= 0 && index < count)) {
    throw checkpointError(t.file, t.name, `entry ${index} is outside its ${count} entries (internal error)`);
  }
  const bytes = storedBytes(t.dtype, rest.reduce((a, b) => a * b, 1));
  return { name, dtype: t.dtype, shape: rest, file: t.file, start: t.start + index * bytes, end: t.start + (index + 1) * bytes };
}

/**
 * The files of a split model, given any one of them (`name-00002-of-00003.gguf` → all three, in order);
 * a file not named like a split is the whole model. A missing split is an error naming it.
 */
export async function ggufSplitFiles(file: string): Promise<string[]> {
  const m = SPLIT_NAME.exec(path.basename(file));
  if (!m) {
    return [file];
  }
  const count = Number(m[3]);
  if (count < 1 || Number(m[2]) < 1 || Number(m[2]) > count) {
    throw new CheckpointError(`${file}: split number ${m[2]} of ${m[3]} is not a valid split name`, { file });
  }
  const files: string[] = [];
  for (let i = 1; i <= count; i++) {
    const f = path.join(path.dirname(file), `${m[1]}-${String(i).padStart(5, '0')}-of-${m[3]}.gguf`);
    try {
      await fsp.access(f);
    } catch {
      throw new CheckpointError(`${f}: split ${i} of ${count} of this GGUF model is missing (all ${count} files must sit beside ${path.basename(file)})`, { file: f });
    }
    files.push(f);
  }
  return files;
}

async function openOne(file: string, handles: Map<string, FileHandle>): Promise<GgufHeader> {
  const { fh, size } = await openRegularFile(file, handles);
  return readGgufHeader(fh, file, size);
}

/** `split.no` / `split.count` (u16 as gguf-split writes them, any integer type accepted), when present, must agree with the file's place among the splits. */
function checkSplitKeys(h: GgufHeader, index: number, count: number): void {
  if (count === 1) {
    return;
  }
  for (const [key, want] of [['split.no', index], ['split.count', count]] as const) {
    let v: number | undefined;
    try {
      v = metaInt(h.metadata, key);
    } catch (e) {
      throw checkpointError(h.file, undefined, (e as Error).message);
    }
    if (v !== undefined && v !== want) {
      throw checkpointError(h.file, undefined, `metadata "${key}" is ${v}, but the file name makes it ${want} (splits of different models mixed?)`);
    }
  }
}

/** Opens and validates a GGUF model: `file` alone, or with its splits when named like one. */
export async function openGgufCheckpoint(file: string, opts: OpenOptions = {}): Promise<GgufCheckpoint> {
  const files = await ggufSplitFiles(file);
  const handles = new Map<string, FileHandle>();
  try {
    const headers: GgufHeader[] = [];
    for (const f of files) {
      headers.push(await openOne(f, handles));
    }
    const tensors = new Map<string, TensorInfo>();
    const gguf = new Map<string, GgufTensorInfo>();
    headers.forEach((h, i) => {
      checkSplitKeys(h, i, headers.length);
      for (const t of h.tensors) {
        const other = tensors.get(t.name);
        if (other) {
          throw checkpointError(h.file, t.name, `also present in ${other.file}`);
        }
        tensors.set(t.name, { name: t.name, dtype: t.type.name as StoredType, shape: t.shape, file: h.file, start: t.start, end: t.end });
        gguf.set(t.name, t);
      }
    });
    return new GgufCheckpoint(files[0], tensors, handles, headers, gguf, opts);
  } catch (e) {
    await Promise.all([...handles.values()].map((h) => h.close().catch(() => undefined)));
    throw e;
  }
}
