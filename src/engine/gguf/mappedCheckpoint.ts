/**
 * @file A GGUF checkpoint seen under Hugging Face tensor names (tensorMap.ts): the loader, the memory
 * plan, the held and streamed weight sources and every family read it exactly as a safetensors
 * checkpoint. Byte views stay at their stored type (a Q4_K expert is held as Q4_K and dequantised
 * when widened); computed views are float32.
 */
import { widenStored, type Checkpoint, type ReadOptions, type TensorInfo } from '../checkpoint/checkpoint';
import { DTYPE_BYTES } from '../checkpoint/dtypes';
import { checkpointError } from '../checkpoint/errors';
import type { GgufCheckpoint } from '../checkpoint/gguf/open';
import { blockGeometry, isBlockType } from '../checkpoint/gguf/types';
import type { ByteView, ComputedView, TensorView } from './tensorMap';

const product = (a: readonly number[]): number => a.reduce((x, y) => x * y, 1);

/** Values per block and bytes per block of a stored type (1 value for plain types). */
function geometry(dtype: TensorInfo['dtype']): { values: number; bytes: number } {
  if (isBlockType(dtype)) {
    const g = blockGeometry(dtype);
    return { values: g.blockSize, bytes: g.typeSize };
  }
  return { values: 1, bytes: DTYPE_BYTES[dtype] };
}

export class MappedGgufCheckpoint implements Checkpoint {
  readonly metadata: ReadonlyMap<string, Readonly<Record<string, string>> | null>;
  private readonly infos = new Map<string, TensorInfo>();

  constructor(
    readonly gguf: GgufCheckpoint,
    private readonly views: ReadonlyMap<string, TensorView>,
    /** Default of every read's `checkFinite`, as openCheckpoint's option. */
    private readonly checkFinite = false,
  ) {
    this.metadata = new Map([[gguf.dir, null]]);
    for (const v of views.values()) {
      const first = gguf.info(v.kind === 'bytes' ? v.segments[0].tensor : v.sources[0]);
      const bytes = v.kind === 'bytes' ? v.segments.reduce((s, g) => s + g.to - g.from, 0) : product(v.shape) * 4;
      const start = first.start + (v.kind === 'bytes' ? v.segments[0].from : 0);
      this.infos.set(v.name, { name: v.name, dtype: v.kind === 'bytes' ? v.dtype : 'F32', shape: v.shape, file: first.file, start, end: start + bytes });
    }
  }

  get dir(): string {
    return this.gguf.dir;
  }

  names(): string[] {
    return [...this.views.keys()];
  }

  has(name: string): boolean {
    return this.views.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.infos.get(name);
    if (!t) {
      throw checkpointError(this.gguf.dir, name, `not found in the GGUF model (as mapped to Hugging Face names: ${this.infos.size} tensors)`);
    }
    return t;
  }

  async readFloat32(name: string, opts: ReadOptions = {}): Promise<Float32Array> {
    const t = this.info(name);
    const total = product(t.shape);
    const { from, count } = opts.range ?? { from: 0, count: total };
    if (!(Number.isInteger(from) && Number.isInteger(count) && from >= 0 && count >= 0 && from + count <= total)) {
      throw checkpointError(t.file, name, `elements [${from}, ${from + count}) are outside its ${total} elements (internal error)`);
    }
    const check = opts.checkFinite ?? this.checkFinite;
    const view = this.views.get(name) as TensorView;
    if (view.kind === 'computed') {
      return this.computed(view, from, count, check);
    }
    const g = geometry(t.dtype);
    const firstBlock = Math.floor(from / g.values);
    const endBlock = Math.ceil((from + count) / g.values);
    const raw = await this.readRaw(name, firstBlock * g.bytes, endBlock * g.bytes);
    const span: TensorInfo = { ...t, shape: [(endBlock - firstBlock) * g.values] };
    return widenStored(span, raw, from - firstBlock * g.values, count, check);
  }

  async readRaw(name: string, from = 0, to?: number): Promise<Uint8Array> {
    const t = this.info(name);
    const end = to ?? t.end - t.start;
    if (!(Number.isInteger(from) && Number.isInteger(end) && 0 <= from && from <= end && end <= t.end - t.start)) {
      throw checkpointError(t.file, name, `byte range [${from}, ${end}) is outside the tensor's ${t.end - t.start} bytes`);
    }
    const view = this.views.get(name) as TensorView;
    if (view.kind === 'computed') {
      const first = Math.floor(from / 4);
      const values = await this.computed(view, first, Math.ceil(end / 4) - first, this.checkFinite);
      return new Uint8Array(values.buffer, values.byteOffset + (from - first * 4), end - from);
    }
    return this.gather(view, from, end);
  }

  /** Bytes [from, to) of a byte view: one positioned read per GGUF tensor it touches, then copied into place. */
  private async gather(view: ByteView, from: number, to: number): Promise<Uint8Array> {
    const out = new Uint8Array(to - from);
    const pieces: { tensor: string; src: number; dst: number; len: number }[] = [];
    let at = 0;
    for (const s of view.segments) {
      const len = s.to - s.from;
      const lo = Math.max(from, at);
      const hi = Math.min(to, at + len);
      if (lo < hi) {
        pieces.push({ tensor: s.tensor, src: s.from + (lo - at), dst: lo - from, len: hi - lo });
      }
      at += len;
    }
    const byTensor = new Map<string, typeof pieces>();
    for (const p of pieces) {
      byTensor.set(p.tensor, [...(byTensor.get(p.tensor) ?? []), p]);
    }
    for (const [tensor, list] of byTensor) {
      const lo = Math.min(...list.map((p) => p.src));
      const hi = Math.max(...list.map((p) => p.src + p.len));
      const bytes = await this.gguf.readRaw(tensor, lo, hi);
      for (const p of list) {
        out.set(bytes.subarray(p.src - lo, p.src - lo + p.len), p.dst);
      }
    }
    return out;
  }

  /** Elements [from, from + count) of a computed view, computing only the entries that hold them. */
  private async computed(view: ComputedView, from: number, count: number, check: boolean): Promise<Float32Array> {
    const e0 = Math.floor(from / view.entrySize);
    const e1 = Math.ceil((from + count) / view.entrySize);
    const read = (gguf: string, i: number): Promise<Float32Array> => {
      const shape = this.gguf.info(gguf).shape;
      const size = product(shape.slice(1));
      return this.gguf.readFloat32(gguf, { range: { from: i * size, count: size }, checkFinite: check });
    };
    const out = new Float32Array((e1 - e0) * view.entrySize);
    for (let e = e0; e < e1; e++) {
      out.set(await view.entry(read, e), (e - e0) * view.entrySize);
    }
    const skip = from - e0 * view.entrySize;
    return skip === 0 && count === out.length ? out : out.slice(skip, skip + count);
  }

  close(): Promise<void> {
    return this.gguf.close();
  }
}
