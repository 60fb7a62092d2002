/**
 * @file Where a loaded model's weights come from once the headers are read: held in memory at their
 * stored precision (resident: bf16 stays two bytes a value, outside the wasm heap), or read from the
 * checkpoint with positioned reads each time a layer needs them (streamed). Both widen to float32
 * with the same code (checkpoint.ts), so a streamed run is bit-identical to a resident one.
 */
import type { Checkpoint, TensorInfo } from './checkpoint/checkpoint';
import { NonFiniteWeightsError, assertStoredFinite, widenStored } from './checkpoint/checkpoint';
import { timedWait } from './checkpoint/readTimings';
import { layerOf } from './loadPlan';

/** Elements [from, from + count) of a flattened tensor. */
export interface ElementRange {
  from: number;
  count: number;
}

/** A tensor, or a range of it, as one `read` asks for it. */
export interface WeightPart {
  name: string;
  range?: ElementRange;
}

export interface WeightSource {
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** float32 values of the tensor, or of `range` of it. */
  read(name: string, range?: ElementRange): Promise<Float32Array>;
  /** Bytes [from, to) of the tensor as stored (MXFP4 blocks and scales are decoded by the reader). */
  readRaw(name: string, from: number, to: number): Promise<Uint8Array>;
  /** Starts reading these tensors (or ranges of them) so a later `read` of the same finds them (overlaps I/O with compute); no-op when held. */
  prefetch(parts: readonly WeightPart[]): void;
  /** The bytes of a tensor held as stored, without a copy (resident sources), or undefined. */
  heldStored?(name: string): Uint8Array | undefined;
  /** Forgets a held tensor's bytes (its layer is cached widened and never reads it again). */
  drop(name: string): void;
  /** Bytes held at stored precision right now. */
  readonly heldBytes: number;
  close(): Promise<void>;
}

/** Every tensor read once at load and kept as stored (the files are closed then); reads widen from memory. */
export class HeldWeights implements WeightSource {
  private readonly stored = new Map<string, Uint8Array>();
  private held = 0;

  private constructor(private readonly ckpt: Checkpoint) {}

  /**
   * Reads `names` as stored, refusing NaN or ±Inf values as the load always has; `onTensor` gets the
   * fraction of bytes done after each (it may throw to abort).
   */
  static async load(ckpt: Checkpoint, names: readonly string[], onTensor?: (fraction: number) => void): Promise<HeldWeights> {
    const w = new HeldWeights(ckpt);
    const total = names.reduce((sum, n) => sum + byteLength(ckpt.info(n)), 0) || 1;
    for (const name of names) {
      const bytes = await ckpt.readRaw(name);
      assertStoredFinite(ckpt.info(name), bytes);
      w.stored.set(name, bytes);
      w.held += bytes.length;
      onTensor?.(Math.min(1, w.held / total));
    }
    await ckpt.close(); // everything is in memory: no file stays open
    return w;
  }

  names(): string[] {
    return this.ckpt.names();
  }

  has(name: string): boolean {
    return this.ckpt.has(name);
  }

  info(name: string): TensorInfo {
    return this.ckpt.info(name);
  }

  get heldBytes(): number {
    return this.held;
  }

  read(name: string, range?: ElementRange): Promise<Float32Array> {
    const info = this.ckpt.info(name);
    const bytes = this.stored.get(name);
    if (!bytes) {
      throw new Error(`tensor '${name}' is not held in memory (internal error: it was dropped or never read)`);
    }
    const r = range ?? { from: 0, count: elementCount(info) };
    return Promise.resolve(widenStored(info, bytes, r.from, r.count, true));
  }

  readRaw(name: string, from: number, to: number): Promise<Uint8Array> {
    const bytes = this.stored.get(name);
    if (!bytes) {
      throw new Error(`tensor '${name}' is not held in memory (internal error: it was dropped or never read)`);
    }
    return Promise.resolve(bytes.subarray(from, to));
  }

  heldStored(name: string): Uint8Array | undefined {
    return this.stored.get(name);
  }

  prefetch(): void {
    // everything is in memory already
  }

  drop(name: string): void {
    const bytes = this.stored.get(name);
    if (bytes) {
      this.held -= bytes.length;
      this.stored.delete(name);
    }
  }

  close(): Promise<void> {
    this.stored.clear();
    this.held = 0;
    return Promise.resolve();
  }
}

/**
 * Nothing held: every read is a positioned read of just the bytes asked for. Nothing is checked up
 * front either, so a NaN or ±Inf weight is found when a run first reads its layer: the error names
 * the tensor and layer and says the file is corrupt, and the reads started ahead are dropped.
 */
export class StreamedWeights implements WeightSource {
  /** Reads started ahead of use (the next layer's tensors, the next expert group), by tensor and range. */
  private readonly ahead = new Map<string, Promise<Float32Array>>();

  constructor(private readonly ckpt: Checkpoint) {}

  names(): string[] {
    return this.ckpt.names();
  }

  has(name: string): boolean {
    return this.ckpt.has(name);
  }

  info(name: string): TensorInfo {
    return this.ckpt.info(name);
  }

  get heldBytes(): number {
    return 0;
  }

  async read(name: string, range?: ElementRange): Promise<Float32Array> {
    const key = partKey({ name, range });
    const pending = this.ahead.get(key);
    this.ahead.delete(key);
    try {
      return await timedWait(pending ?? this.ckpt.readFloat32(name, range ? { range, checkFinite: true } : { checkFinite: true }));
    } catch (err) {
      throw this.noteCorrupt(err);
    }
  }

  async readRaw(name: string, from: number, to: number): Promise<Uint8Array> {
    return timedWait(this.ckpt.readRaw(name, from, to));
  }

  prefetch(parts: readonly WeightPart[]): void {
    for (const part of parts) {
      const key = partKey(part);
      if (!this.ahead.has(key)) {
        const p = this.ckpt.readFloat32(part.name, part.range ? { range: part.range, checkFinite: true } : { checkFinite: true });
        p.catch(() => undefined); // a failed read ahead surfaces when the tensor is read for real
        this.ahead.set(key, p);
      }
    }
  }

  drop(): void {
    // nothing held
  }

  async close(): Promise<void> {
    this.ahead.clear();
    await this.ckpt.close();
  }

  /** A non-finite weight: remembered, said as a corrupt file at its layer, and the reads ahead let go. */
  private noteCorrupt(err: unknown): unknown {
    if (!(err instanceof NonFiniteWeightsError) || err.file === undefined || err.tensor === undefined) {
      return err;
    }
    const layer = layerOf(err.tensor);
    const where = layer === null ? '' : ` (layer ${layer})`;
    this.ahead.clear();
    return new NonFiniteWeightsError(
      err.file,
      err.tensor,
      err.detail,
      `${err.file}: tensor ${JSON.stringify(err.tensor)}${where} ${err.detail}: the checkpoint file is corrupt (or overflowed when saved); ` +
        'this model streams, so its weights are checked as each layer is read: re-download or re-save the file',
    );
  }
}

function partKey(p: WeightPart): string {
  return p.range ? `${p.name}@${p.range.from}+${p.range.count}` : p.name;
}

export function elementCount(info: Pick<TensorInfo, 'shape'>): number {
  return info.shape.reduce((a, b) => a * b, 1);
}

function byteLength(info: Pick<TensorInfo, 'start' | 'end'>): number {
  return info.end - info.start;
}
