/**
 * @file What a model family provides (one file per `model_type` in families/, listed in registry.ts):
 * its config with transformers' defaults, how to read one decoder layer (the router written inline),
 * what its gate means, and hooks for where it departs from the plain decoder in forward.ts.
 */
import type { TraceModelInfo } from '../shared/trace';
import type { Decoder, DecoderHooks, DecoderLayer } from './forward';
import type { RopeSpec } from './ops';
import type { WeightReader } from './weights';

/** The config fields every family has; the loader and the forward pass need no others. */
export interface FamilyConfig {
  vocabSize: number; // V
  hiddenSize: number; // D
  numLayers: number;
  numExperts: number; // E
  topK: number; // k
  rmsNormEps: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  rope: RopeSpec;
  /** Layers the checkpoint stores past numLayers that the forward pass does not use (DeepSeek's multi-token prediction). */
  unusedLayers?: number;
}

/** The model description a family derives from its config (path and name are added by the loader). */
export type FamilyInfo = Omit<TraceModelInfo, 'path' | 'name'>;

/** What a family says about its gate; the rest of the model info follows from the config and the layers. */
export type GateInfo = Pick<FamilyInfo, 'gate' | 'gateDescription' | 'hasSharedExpert'>;

export interface FamilyDef<C extends FamilyConfig = FamilyConfig> {
  modelType: string;
  /** config.json → typed spec, with the defaults transformers uses. */
  parseConfig(json: Record<string, unknown>): C;
  /** Refuses a checkpoint the family cannot read before any tensor is read. */
  check?(r: WeightReader): void;
  /** Reads layer i (norms, attention, FFN with the family's router); the layer owns every tensor it holds. */
  readLayer(r: WeightReader, cfg: C, i: number): Promise<DecoderLayer>;
  gate(cfg: C): GateInfo;
  /** Where the family departs from the plain residual stream (GraniteMoE's multipliers); none by default. */
  hooks?(cfg: C): DecoderHooks;
}

export interface LoadedFamily {
  info: FamilyInfo;
  /** Longest sequence one forward pass may take. */
  maxContext: number;
  decoder: Decoder;
}
