/**
 * @file What `moe-lens info` and Select Model show about a model (folder or GGUF file) without reading a weight:
 * its family, layers, experts and k from config.json, and the memory plan from the safetensors
 * headers (parameters, dtypes, bytes on disk, bytes it will hold, resident or streamed, or why not).
 */
import * as path from 'node:path';
import { BACKEND_IDS, tensorMemoryLimit, weightCopies, type BackendName } from './backend';
import { assertLayerCount } from './loadPlan';
import { planModelMemory, type MemoryPlan } from './memoryPlan';
import { openModelSource } from './modelSource';
import { familyFor } from './registry';

export interface ModelSummary {
  path: string;
  modelType: string;
  numLayers: number;
  numExperts: number;
  topK: number;
  plan: MemoryPlan;
}

export interface SummaryOptions {
  maxMemoryBytes?: number;
  /** The backend whose heap ceiling applies (default wasm, the usual one). */
  backend?: BackendName;
  planTokens?: number;
}

export async function summarizeModel(dir: string, opts: SummaryOptions = {}): Promise<ModelSummary> {
  const source = await openModelSource(dir); // a folder, or a GGUF file
  let family;
  let spec;
  try {
    family = familyFor(source.config.model_type);
    spec = family.parseConfig(source.config);
  } catch (err) {
    await source.close();
    throw err;
  }
  const ckpt = await source.openCheckpoint();
  try {
    assertLayerCount(ckpt, spec.numLayers, spec.unusedLayers ?? 0);
    const plan = planModelMemory(ckpt, spec, {
      budgetBytes: opts.maxMemoryBytes,
      tokens: opts.planTokens,
      heapBytes: tensorMemoryLimit(BACKEND_IDS[opts.backend ?? 'wasm']),
      weightCopies: weightCopies(BACKEND_IDS[opts.backend ?? 'wasm']),
      numLayers: spec.numLayers,
    });
    return { path: path.resolve(dir), modelType: family.modelType, numLayers: spec.numLayers, numExperts: spec.numExperts, topK: spec.topK, plan };
  } finally {
    await ckpt.close();
  }
}
