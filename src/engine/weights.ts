/**
 * @file Loading weights: checkpoint names → float32 tf tensors with shape checks, laid out as the
 * forward pass wants them (linear weights transposed, SwiGLU gate and up fused).
 *
 * A `WeightReader` reads through a `WeightSource` (held at stored precision, or streamed) and
 * remembers every tensor it made, so a layer build that fails or is aborted frees them
 * (`disposeAll`). There is no module state; each layer build gets its own reader.
 */
import { tf } from './backend';
import { assertFinite } from './checkpoint/checkpoint';
import { applyBlockScales, scaleGridShape } from './checkpoint/fp8Block';
import { dequantMxfp4, mxfp4Shape, type Mxfp4Shape } from './checkpoint/mxfp4';
import { timedWiden } from './checkpoint/readTimings';
import { BF16_TRANSPOSED_KERNEL, NonFiniteBf16, ownKernelsActive } from './kernels/wasmKernels';
import type { Quantization } from './checkpoint/quantConfig';
import type { SwigluWeights } from './moe';
import type { Linear } from './ops';
import type { ElementRange, WeightPart, WeightSource } from './weightSource';

/** Reads named tensors as float32 tf tensors and checks their shapes. */
export class WeightReader {
  /** Every tensor this reader made, so a failed build can free them. */
  private readonly created: tf.Tensor[] = [];

  constructor(
    private readonly source: WeightSource,
    /** config.json's quantization_config: how quantised tensors are dequantised. */
    private readonly quant: Quantization | null = null,
  ) {}

  /** A fresh reader on the same source with its own list of made tensors (one expert group's load). */
  scope(): WeightReader {
    return new WeightReader(this.source, this.quant);
  }

  names(): string[] {
    return this.source.names();
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  /** Registers a tensor a family made itself from read data, so a failed load frees it too. */
  adopt<T extends tf.Tensor>(t: T): T {
    this.created.push(t);
    return t;
  }

  /** Frees every tensor this load made (after it failed or was aborted). */
  disposeAll(): void {
    tf.dispose(this.created.filter((t) => !t.isDisposed));
    this.created.length = 0;
  }

  /**
   * The float32 values of a tensor whose shape must equal `shape`. Quantised tensors are
   * dequantised here: MXFP4 `${name}_blocks`/`_scales` pairs and F8_E4M3 weights with a
   * `${name}_scale_inv` block grid, so families read them by their unquantised names.
   */
  async read(name: string, shape: number[]): Promise<Float32Array> {
    if (this.isMxfp4(name)) {
      return this.mxfp4Experts(name, shape);
    }
    const info = this.source.info(name);
    assertShape(name, info.shape, shape);
    if (this.isFp8Block(name)) {
      return this.fp8Block(name, info.shape);
    }
    return this.source.read(name);
  }

  /** Entry `index` along the first axis of a tensor of shape `shape` (one expert of a fused [E, …] tensor). */
  async readEntry(name: string, shape: number[], index: number): Promise<Float32Array> {
    if (this.isMxfp4(name)) {
      return this.mxfp4Experts(name, shape, index, index + 1);
    }
    this.checkShape(name, shape);
    if (this.isFp8Block(name)) {
      const size = shape.slice(1).reduce((a, b) => a * b, 1);
      return (await this.fp8Block(name, shape)).slice(index * size, (index + 1) * size); // block grids span entries: read whole
    }
    return this.source.read(name, WeightReader.entryRange(shape, index));
  }

  /** Starts reading these parts ahead of their `read` (streamed sources; no-op otherwise); parts stored quantised are read when used. */
  prefetch(parts: readonly WeightPart[]): void {
    this.source.prefetch(parts.filter((p) => this.source.has(p.name) && !this.isFp8Block(p.name)));
  }

  /** The range of entry `index` along the first axis of a tensor of shape `shape`, as `readEntry` reads it. */
  static entryRange(shape: number[], index: number): ElementRange {
    const size = shape.slice(1).reduce((a, b) => a * b, 1);
    return { from: index * size, count: size };
  }

  /** Throws unless the header gives `name` this shape, dequantised (no bytes read). */
  checkShape(name: string, shape: number[]): void {
    if (this.isMxfp4(name)) {
      const m = this.mxfp4Header(name);
      assertShape(name, [m.experts, m.cols, m.rows], shape, ' (dequantised from MXFP4)');
      return;
    }
    assertShape(name, this.source.info(name).shape, shape);
  }

  /** Stored as an MXFP4 pair `${name}_blocks`/`_scales` instead of under its own name. */
  private isMxfp4(name: string): boolean {
    return !this.source.has(name) && this.source.has(`${name}_blocks`);
  }

  private isFp8Block(name: string): boolean {
    return this.source.info(name).dtype === 'F8_E4M3' && this.source.has(`${name}_scale_inv`);
  }

  /** The MXFP4 pair's headers, checked: quant_method 'mxfp4', both U8, shapes that agree. */
  private mxfp4Header(name: string): Mxfp4Shape & { blocks: string; scales: string; file: string } {
    const blocks = this.source.info(`${name}_blocks`);
    const scales = this.source.info(`${name}_scales`);
    if (this.quant?.method !== 'mxfp4') {
      throw new Error(`tensor '${name}' is stored as MXFP4 blocks and scales, but config.json's quantization_config does not say quant_method 'mxfp4'`);
    }
    if (blocks.dtype !== 'U8' || scales.dtype !== 'U8') {
      throw new Error(`MXFP4 tensors '${blocks.name}' and '${scales.name}' must be U8, not ${blocks.dtype} and ${scales.dtype}`);
    }
    return { ...mxfp4Shape(blocks.shape, scales.shape), blocks: blocks.name, scales: scales.name, file: blocks.file };
  }

  /**
   * Experts [from, to) of the MXFP4 pair `${name}_blocks`/`_scales` as float32 [to − from, ...shape[1:]]
   * (`shape` is the whole dequantised tensor [E, cols, rows]): only those experts' bytes are read.
   */
  async mxfp4Experts(name: string, shape: number[], from = 0, to?: number): Promise<Float32Array> {
    const m = this.mxfp4Header(name);
    assertShape(name, [m.experts, m.cols, m.rows], shape, ' (dequantised from MXFP4)');
    const end = to ?? m.experts;
    if (!(0 <= from && from < end && end <= m.experts)) {
      throw new Error(`experts [${from}, ${end}) of '${name}' are outside its ${m.experts} experts`);
    }
    const blockBytes = m.rows * m.groups * 16; // one expert's
    const scaleBytes = m.rows * m.groups;
    const b = await this.source.readRaw(m.blocks, from * blockBytes, end * blockBytes);
    const s = await this.source.readRaw(m.scales, from * scaleBytes, end * scaleBytes);
    const data = timedWiden(() => dequantMxfp4(b, s, end - from, m.rows, m.groups));
    assertFinite({ name, file: m.file, shape: [end - from, m.cols, m.rows] }, data);
    return data;
  }

  /** An F8_E4M3 weight times its per-block `weight_scale_inv`, in float32. */
  private async fp8Block(name: string, shape: number[]): Promise<Float32Array> {
    if (this.quant?.method !== 'fp8') {
      throw new Error(`tensor '${name}' is FP8 with block scales ('${name}_scale_inv'), but config.json's quantization_config does not say quant_method 'fp8'`);
    }
    const scaleInfo = this.source.info(`${name}_scale_inv`);
    assertShape(`${name}_scale_inv`, scaleInfo.shape, scaleGridShape(shape, this.quant.blockSize), ` (weight_block_size [${this.quant.blockSize.join(', ')}])`);
    const w = await this.source.read(name);
    const { blockSize } = this.quant;
    const scales = await this.source.read(scaleInfo.name);
    const data = timedWiden(() => applyBlockScales(w, shape, scales, blockSize));
    assertFinite(this.source.info(name), data);
    return data;
  }

  async vector(name: string, n: number): Promise<tf.Tensor1D> {
    return this.adopt(tf.tensor1d(await this.read(name, [n])));
  }

  /** An nn.Linear weight [out, in] (+ optional bias [out]), stored transposed [in, out]. */
  async linear(name: string, out: number, inDim: number, bias = false): Promise<Linear> {
    const wT = this.adopt(await this.transposed([`${name}.weight`], out, inDim)); // [in, out]
    return { wT, b: bias ? await this.vector(`${name}.bias`, out) : null };
  }

  /** A SwiGLU MLP from three nn.Linear weights (gate/up [I, D], down [D, I]), gate and up fused. */
  async swiglu(gate: string, up: string, down: string, D: number, I: number): Promise<SwigluWeights> {
    const gateUp = this.adopt(await this.transposed([`${gate}.weight`, `${up}.weight`], I, D)); // [D, 2I]: gate columns, then up
    return { gateUp: { wT: gateUp, b: null }, down: await this.linear(down, D, I) };
  }

  /** Matrices [rows, cols] → float32 [cols, rows·names.length]: each transposed, side by side. */
  private async transposed(names: string[], rows: number, cols: number): Promise<tf.Tensor2D> {
    const fast = this.heldBf16Transposed(names, rows, cols);
    if (fast) {
      return fast;
    }
    // Stacked as rows on the host, then one transpose (no concat of transposes).
    const all = new Float32Array(names.length * rows * cols);
    for (const [i, name] of names.entries()) {
      all.set(await this.read(name, [rows, cols]), i * rows * cols);
    }
    return tf.tidy(() => tf.transpose(tf.tensor2d(all, [names.length * rows, cols])));
  }

  /**
   * The common case of a resident bf16 checkpoint on the engine's own kernels: the stored bytes go into
   * the heap as they are and one pass widens and transposes them (kernels/bf16Kernel.ts), instead of
   * widening on the host, copying four bytes a value and transposing there. Null when that does not
   * apply, and for a weight holding NaN or ±Inf (the general path then names the value).
   */
  private heldBf16Transposed(names: string[], rows: number, cols: number): tf.Tensor2D | null {
    if (!ownKernelsActive()) {
      return null;
    }
    const stored: Uint8Array[] = [];
    for (const name of names) {
      const bytes = this.source.has(name) && this.source.info(name).dtype === 'BF16' ? this.source.heldStored?.(name) : undefined;
      if (!bytes) {
        return null;
      }
      assertShape(name, this.source.info(name).shape, [rows, cols]);
      stored.push(bytes);
    }
    try {
      // The stored bytes travel as an attribute: staged in the heap by the kernel, never a tensor of their own.
      return tf.engine().runKernel(BF16_TRANSPOSED_KERNEL, {}, { stored, rows, cols } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
    } catch (err) {
      if (err instanceof NonFiniteBf16) {
        return null;
      }
      throw err;
    }
  }

  /**
   * A router nn.Linear [E, D] (+ bias [E]). An expert count that disagrees with the weights is
   * named by its config key and both numbers, not as a shape mismatch.
   */
  async router(name: string, E: number, D: number, config: { modelType: string; key: string }, bias = false): Promise<Linear> {
    const shape = this.source.info(`${name}.weight`).shape;
    if (shape.length === 2 && shape[0] !== E) {
      throw new Error(
        `config.json (${config.modelType}): '${config.key}' is ${E}, but the router '${name}.weight' has ${shape[0]} experts (shape [${shape.join(', ')}])`,
      );
    }
    return this.linear(name, E, D, bias);
  }
}

function assertShape(name: string, got: readonly number[], want: readonly number[], how = ''): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new Error(`tensor '${name}' has shape [${got}]${how}, but config.json implies [${want}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// Which tensors a layer owns (for dispose)
// ---------------------------------------------------------------------------------------------

export function linearTensors(l: Linear | null): tf.Tensor[] {
  return l ? (l.b ? [l.wT, l.b] : [l.wT]) : [];
}

export function swigluTensors(w: SwigluWeights): tf.Tensor[] {
  return [...linearTensors(w.gateUp), ...linearTensors(w.down)];
}

