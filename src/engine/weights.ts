/**
 * @file Loading weights: checkpoint names → float32 tf tensors with shape checks, laid out as the
 * forward pass wants them (linear weights transposed, SwiGLU gate and up fused), and the load loop
 * that asks a family for one layer at a time.
 *
 * A `WeightReader` is one load: it remembers every tensor it made, so a load that fails or is
 * aborted frees them (`disposeAll`). There is no module state; two loads never share a reader.
 */
import { tf } from './backend';
import { assertFinite, type Checkpoint } from './checkpoint/checkpoint';
import { applyBlockScales, scaleGridShape } from './checkpoint/fp8Block';
import { dequantMxfp4, mxfp4Shape } from './checkpoint/mxfp4';
import type { Quantization } from './checkpoint/quantConfig';
import type { FamilyConfig, FamilyDef, LoadedFamily } from './family';
import type { Decoder, DecoderLayer, LayerProvider } from './forward';
import type { SwigluWeights } from './moe';
import type { Linear } from './ops';

/** Reads named tensors as float32 tf tensors, checks their shapes, and reports byte progress. */
export class WeightReader {
  /** Every tensor this load made, so a failed load can free them. */
  private readonly created: tf.Tensor[] = [];
  private done = 0;
  private readonly total: number;

  constructor(
    private readonly ckpt: Checkpoint,
    private readonly onProgress?: (fraction: number) => void,
    /** config.json's quantization_config: how quantised tensors are dequantised. */
    private readonly quant: Quantization | null = null,
  ) {
    this.total = ckpt.names().reduce((sum, n) => sum + (ckpt.info(n).end - ckpt.info(n).start), 0) || 1;
  }

  names(): string[] {
    return this.ckpt.names();
  }

  has(name: string): boolean {
    return this.ckpt.has(name);
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

  private progress(bytes: number): void {
    this.done += bytes;
    this.onProgress?.(Math.min(1, this.done / this.total));
  }

  /**
   * The float32 values of a tensor whose shape must equal `shape`. Quantised tensors are
   * dequantised here: MXFP4 `${name}_blocks`/`_scales` pairs and F8_E4M3 weights with a
   * `${name}_scale_inv` block grid, so families read them by their unquantised names.
   */
  async read(name: string, shape: number[]): Promise<Float32Array> {
    if (!this.ckpt.has(name) && this.ckpt.has(`${name}_blocks`)) {
      return this.mxfp4Experts(name, shape);
    }
    const info = this.ckpt.info(name);
    assertShape(name, info.shape, shape);
    if (info.dtype === 'F8_E4M3' && this.ckpt.has(`${name}_scale_inv`)) {
      return this.fp8Block(name, info.shape);
    }
    const data = await this.ckpt.readFloat32(name);
    this.progress(info.end - info.start);
    return data;
  }

  /**
   * Experts [from, to) of the MXFP4 pair `${name}_blocks`/`_scales` as float32 [to − from, ...shape[1:]]
   * (`shape` is the whole dequantised tensor [E, cols, rows]): only those experts' bytes are read.
   */
  async mxfp4Experts(name: string, shape: number[], from = 0, to?: number): Promise<Float32Array> {
    const blocks = this.ckpt.info(`${name}_blocks`);
    const scales = this.ckpt.info(`${name}_scales`);
    if (this.quant?.method !== 'mxfp4') {
      throw new Error(`tensor '${name}' is stored as MXFP4 blocks and scales, but config.json's quantization_config does not say quant_method 'mxfp4'`);
    }
    if (blocks.dtype !== 'U8' || scales.dtype !== 'U8') {
      throw new Error(`MXFP4 tensors '${blocks.name}' and '${scales.name}' must be U8, not ${blocks.dtype} and ${scales.dtype}`);
    }
    const m = mxfp4Shape(blocks.shape, scales.shape);
    assertShape(name, [m.experts, m.cols, m.rows], shape, ' (dequantised from MXFP4)');
    const end = to ?? m.experts;
    if (!(0 <= from && from < end && end <= m.experts)) {
      throw new Error(`experts [${from}, ${end}) of '${name}' are outside its ${m.experts} experts`);
    }
    const blockBytes = m.rows * m.groups * 16; // one expert's
    const scaleBytes = m.rows * m.groups;
    const b = await this.ckpt.readRaw(blocks.name, from * blockBytes, end * blockBytes);
    const s = await this.ckpt.readRaw(scales.name, from * scaleBytes, end * scaleBytes);
    const data = dequantMxfp4(b, s, end - from, m.rows, m.groups);
    assertFinite({ name, file: blocks.file, shape: [end - from, m.cols, m.rows] }, data);
    this.progress(b.length + s.length);
    return data;
  }

  /** An F8_E4M3 weight times its per-block `weight_scale_inv`, in float32. */
  private async fp8Block(name: string, shape: number[]): Promise<Float32Array> {
    if (this.quant?.method !== 'fp8') {
      throw new Error(`tensor '${name}' is FP8 with block scales ('${name}_scale_inv'), but config.json's quantization_config does not say quant_method 'fp8'`);
    }
    const scaleInfo = this.ckpt.info(`${name}_scale_inv`);
    assertShape(`${name}_scale_inv`, scaleInfo.shape, scaleGridShape(shape, this.quant.blockSize), ` (weight_block_size [${this.quant.blockSize.join(', ')}])`);
    const w = await this.ckpt.readFloat32(name);
    const data = applyBlockScales(w, shape, await this.ckpt.readFloat32(scaleInfo.name), this.quant.blockSize);
    const info = this.ckpt.info(name);
    assertFinite(info, data);
    this.progress(info.end - info.start + scaleInfo.end - scaleInfo.start);
    return data;
  }

  async vector(name: string, n: number): Promise<tf.Tensor1D> {
    return this.adopt(tf.tensor1d(await this.read(name, [n])));
  }

  /** An nn.Linear weight [out, in] (+ optional bias [out]), stored transposed [in, out]. */
  async linear(name: string, out: number, inDim: number, bias = false): Promise<Linear> {
    const w = tf.tensor2d(await this.read(`${name}.weight`, [out, inDim]), [out, inDim]);
    const wT = this.adopt(tf.transpose(w) as tf.Tensor2D); // [in, out]
    w.dispose();
    return { wT, b: bias ? await this.vector(`${name}.bias`, out) : null };
  }

  /** A SwiGLU MLP from three nn.Linear weights (gate/up [I, D], down [D, I]), gate and up fused. */
  async swiglu(gate: string, up: string, down: string, D: number, I: number): Promise<SwigluWeights> {
    const g = await this.linear(gate, I, D);
    const u = await this.linear(up, I, D);
    const gateUp = this.adopt(tf.concat([g.wT, u.wT], 1) as tf.Tensor2D); // [D, 2I]
    g.wT.dispose();
    u.wT.dispose();
    return { gateUp: { wT: gateUp, b: null }, down: await this.linear(down, D, I) };
  }

  /**
   * A router nn.Linear [E, D] (+ bias [E]). An expert count that disagrees with the weights is
   * named by its config key and both numbers, not as a shape mismatch.
   */
  async router(name: string, E: number, D: number, config: { modelType: string; key: string }, bias = false): Promise<Linear> {
    const shape = this.ckpt.info(`${name}.weight`).shape;
    if (shape.length === 2 && shape[0] !== E) {
      throw new Error(
        `config.json (${config.modelType}): '${config.key}' is ${E}, but the router '${name}.weight' has ${shape[0]} experts (shape [${shape.join(', ')}])`,
      );
    }
    return this.linear(name, E, D, bias);
  }

  /** A plain matrix [rows, cols] as stored, as a tensor. */
  async matrix(name: string, rows: number, cols: number): Promise<tf.Tensor2D> {
    return this.adopt(tf.tensor2d(await this.read(name, [rows, cols]), [rows, cols]));
  }

  /** Tied word embeddings: the LM head is the embedding matrix, kept transposed [D, V] (a copy, for speed). */
  tiedHead(embed: tf.Tensor2D): Linear {
    return { wT: this.adopt(tf.transpose(embed) as tf.Tensor2D), b: null };
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

// ---------------------------------------------------------------------------------------------
// The load loop
// ---------------------------------------------------------------------------------------------

/** Every layer read up front and kept until dispose (what fits in memory today). */
class ResidentLayers implements LayerProvider {
  constructor(private readonly layers: DecoderLayer[]) {}

  get count(): number {
    return this.layers.length;
  }

  get(i: number): Promise<DecoderLayer> {
    return Promise.resolve(this.layers[i]);
  }

  dispose(): void {
    tf.dispose([...new Set(this.layers.flatMap((l) => [l.inputNorm, l.postNorm, ...l.owned]))]);
  }
}

/**
 * Reads a family's weights: each layer through `family.readLayer`, then embeddings, final norm and
 * LM head. If anything throws (a bad tensor, an abort from `onProgress`), every tensor made so far is freed.
 */
export async function loadDecoder<C extends FamilyConfig>(
  ckpt: Checkpoint,
  family: FamilyDef<C>,
  cfg: C,
  onProgress?: (fraction: number) => void,
  quant: Quantization | null = null,
): Promise<LoadedFamily> {
  const r = new WeightReader(ckpt, onProgress, quant);
  try {
    family.check?.(r);
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      layers.push(await family.readLayer(r, cfg, i));
    }
    const { vocabSize: V, hiddenSize: D } = cfg;
    const embed = await r.matrix('model.embed_tokens.weight', V, D); // [V, D]
    const finalNorm = await r.vector('model.norm.weight', D); // [D]
    const lmHead = cfg.tieWordEmbeddings ? r.tiedHead(embed) : await r.linear('lm_head', V, D); // [D, V]
    const gate = family.gate(cfg);
    return {
      info: {
        modelType: family.modelType,
        numLayers: cfg.numLayers,
        numExperts: cfg.numExperts,
        topK: cfg.topK,
        vocabSize: V,
        ...gate,
        moeLayers: layers.filter((l) => l.ffn.kind === 'moe').map((l) => l.layer),
      },
      maxContext: cfg.maxPositions,
      decoder: {
        embed,
        layers: new ResidentLayers(layers),
        finalNorm,
        lmHead,
        rmsNormEps: cfg.rmsNormEps,
        rope: cfg.rope,
        hooks: family.hooks?.(cfg) ?? {},
      },
    };
  } catch (err) {
    r.disposeAll();
    throw err;
  }
}

/** Frees every weight of a loaded decoder. */
export function disposeDecoder(d: Decoder): void {
  d.layers.dispose();
  tf.dispose([d.embed, d.finalNorm, ...linearTensors(d.lmHead)]);
}
