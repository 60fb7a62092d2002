/**
 * @file Loading weights: checkpoint names → float32 tf tensors with shape checks, laid out as the
 * forward pass wants them (linear weights transposed, SwiGLU gate and up fused), and the load loop
 * that asks a family for one layer at a time.
 *
 * A `WeightReader` is one load: it remembers every tensor it made, so a load that fails or is
 * aborted frees them (`disposeAll`). There is no module state; two loads never share a reader.
 */
import { tf } from './backend';
import type { Checkpoint } from './checkpoint/checkpoint';
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

  /** The raw float32 values of a tensor whose shape must equal `shape`. */
  async read(name: string, shape: number[]): Promise<Float32Array> {
    const info = this.ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`tensor '${name}' has shape [${info.shape}], but config.json implies [${shape}]`);
    }
    const data = await this.ckpt.readFloat32(name);
    this.done += info.end - info.start;
    this.onProgress?.(Math.min(1, this.done / this.total));
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
): Promise<LoadedFamily> {
  const r = new WeightReader(ckpt, onProgress);
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
