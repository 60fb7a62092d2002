/**
 * @file The layer provider behind the forward pass and the decoder around it. A layer is built from
 * its weight source when the forward pass reaches it (the family's readLayer: attention, norms,
 * router; experts stay in their bank until routed to) and freed when the pass is done with it,
 * unless the memory plan lets the load keep it widened (the first `cachedLayers`). Streaming starts
 * reading the next layer's tensors while this one computes.
 */
import { tf } from './backend';
import type { Quantization } from './checkpoint/quantConfig';
import type { FamilyConfig, FamilyDef, LoadedFamily } from './family';
import type { Decoder, DecoderLayer, LayerProvider, VocabMatrix } from './forward';
import { HeadSlices } from './head';
import { isExpertTensor, layerOf } from './loadPlan';
import type { MemoryPlan } from './memoryPlan';
import { WeightReader } from './weights';
import type { WeightSource } from './weightSource';

/** Frees a layer's norms, attention and FFN tensors and whatever its experts' bank holds. */
export function disposeLayer(l: DecoderLayer): void {
  tf.dispose([l.inputNorm, l.postNorm, ...l.owned]);
  if (l.ffn.kind === 'moe') {
    l.ffn.experts.dispose();
  }
}

export class LayerStore<C extends FamilyConfig> implements LayerProvider {
  private readonly cached = new Map<number, DecoderLayer>();
  /** Layers built for a run and not yet released (a Set: two runs at once each free their own). */
  private readonly live = new Set<DecoderLayer>();
  /** Layer i's tensors other than the routed experts, for reading ahead. */
  private readonly fixedNames = new Map<number, string[]>();

  constructor(
    private readonly source: WeightSource,
    private readonly family: FamilyDef<C>,
    private readonly cfg: C,
    private readonly readAhead: boolean,
    private readonly quant: Quantization | null = null,
  ) {
    for (const name of source.names()) {
      const layer = layerOf(name);
      if (layer !== null && !isExpertTensor(name)) {
        this.fixedNames.set(layer, [...(this.fixedNames.get(layer) ?? []), name]);
      }
    }
  }

  get count(): number {
    return this.cfg.numLayers;
  }

  async get(i: number): Promise<DecoderLayer> {
    const kept = this.cached.get(i);
    if (kept) {
      return kept;
    }
    if (this.readAhead && i + 1 < this.count && !this.cached.has(i + 1)) {
      this.source.prefetch((this.fixedNames.get(i + 1) ?? []).map((name) => ({ name })));
    }
    const layer = await this.build(i);
    this.live.add(layer);
    return layer;
  }

  release(layer: DecoderLayer): void {
    if (this.live.delete(layer)) {
      disposeLayer(layer);
    }
  }

  /** Builds layer i with every expert and keeps it widened; its stored bytes are no longer needed. */
  async hold(i: number): Promise<void> {
    const layer = await this.build(i);
    try {
      if (layer.ffn.kind === 'moe') {
        await layer.ffn.experts.holdAll();
      }
    } catch (err) {
      disposeLayer(layer);
      throw err;
    }
    this.cached.set(i, layer);
    for (const name of this.source.names()) {
      if (layerOf(name) === i) {
        this.source.drop(name);
      }
    }
  }

  /** Builds layer i and frees it again: the load's checks (shapes, the family's refusals) with nothing kept. */
  async check(i: number): Promise<void> {
    disposeLayer(await this.build(i));
  }

  dispose(): void {
    for (const layer of [...this.cached.values(), ...this.live]) {
      disposeLayer(layer);
    }
    this.cached.clear();
    this.live.clear();
  }

  private async build(i: number): Promise<DecoderLayer> {
    const r = new WeightReader(this.source, this.quant);
    try {
      return await this.family.readLayer(r, this.cfg, i);
    } catch (err) {
      r.disposeAll();
      throw err;
    }
  }
}

/** Rows of a [V, D] tensor read on demand. */
function vocabMatrix(source: WeightSource, name: string, V: number, D: number): VocabMatrix {
  new WeightReader(source).checkShape(name, [V, D]);
  return { rows: V, cols: D, read: (from, count) => source.read(name, { from: from * D, count: count * D }) };
}

/**
 * The decoder over a weight source, planned by `plan`, dequantising as `quant` says: layers as the plan says (the first
 * `cachedLayers` built now and kept; every other layer checked now when resident, only layer 0
 * when streamed), the embedding read by rows, the LM head a slice at a time (kept widened when
 * `headCached`). `onLayer` may throw to abort;
 * whatever was made is freed then.
 */
export async function buildDecoder<C extends FamilyConfig>(
  source: WeightSource,
  family: FamilyDef<C>,
  cfg: C,
  plan: Pick<MemoryPlan, 'mode' | 'cachedLayers' | 'headCached' | 'expertGroupBytes'>,
  quant: Quantization | null = null,
  onLayer?: (done: number, total: number) => void,
): Promise<LoadedFamily> {
  const store = new LayerStore(source, family, cfg, plan.mode === 'streamed', quant);
  const r = new WeightReader(source, quant);
  let disposeHead = (): void => undefined;
  try {
    family.check?.(r);
    const { vocabSize: V, hiddenSize: D } = cfg;
    const embed = vocabMatrix(source, 'model.embed_tokens.weight', V, D); // [V, D]
    const lmHead = new HeadSlices(cfg.tieWordEmbeddings ? embed : vocabMatrix(source, 'lm_head.weight', V, D)); // [V, D]
    disposeHead = () => lmHead.dispose();
    const checked = plan.mode === 'resident' ? cfg.numLayers : Math.min(1, cfg.numLayers);
    for (let i = 0; i < cfg.numLayers; i++) {
      if (i < plan.cachedLayers) {
        await store.hold(i);
      } else if (i < checked) {
        await store.check(i);
      }
      onLayer?.(i + 1, cfg.numLayers);
    }
    if (plan.headCached) {
      await lmHead.holdAll();
    }
    const finalNorm = await r.vector('model.norm.weight', D); // [D]
    const gate = family.gate(cfg);
    const moeLayers = Array.from({ length: cfg.numLayers }, (_, i) => i).filter((i) => isMoeLayer(source, i));
    return {
      info: { modelType: family.modelType, numLayers: cfg.numLayers, numExperts: cfg.numExperts, topK: cfg.topK, vocabSize: V, ...gate, moeLayers },
      maxContext: cfg.maxPositions,
      decoder: { embed, layers: store, finalNorm, lmHead, expertGroupBytes: plan.expertGroupBytes, rmsNormEps: cfg.rmsNormEps, rope: cfg.rope, hooks: family.hooks?.(cfg) ?? {} },
    };
  } catch (err) {
    store.dispose();
    disposeHead();
    r.disposeAll();
    throw err;
  }
}

/** Whether layer i routes: it stores routed experts (known from the names, before any layer is built). */
function isMoeLayer(source: WeightSource, i: number): boolean {
  const prefix = `model.layers.${i}.`;
  return source.names().some((n) => n.startsWith(prefix) && isExpertTensor(n));
}

/** Frees every weight of a loaded decoder (the source is closed by its owner). */
export function disposeDecoder(d: Decoder): void {
  d.layers.dispose();
  d.lmHead.dispose();
  d.finalNorm.dispose();
}
