/**
 * @file What the checkpoint's headers say before any weight is read (as llama.cpp sizes its
 * buffers before it maps a tensor): the checkpoint holds the layers config.json names, and its
 * weights, widened to float32, fit the backend's memory.
 */
import { tensorMemoryLimit } from './backend';
import type { Checkpoint } from './checkpoint/checkpoint';

const LAYER_NAME = /^model\.layers\.(\d+)\./;

/**
 * config.json's num_hidden_layers must match the checkpoint: fewer would silently run a truncated
 * model (transformers only warns about unused weights). `extra` layers beyond it are expected
 * (DeepSeek's multi-token-prediction layers, which the forward pass does not use).
 */
export function assertLayerCount(ckpt: Checkpoint, numLayers: number, extra = 0): void {
  let stored = 0;
  for (const name of ckpt.names()) {
    const m = LAYER_NAME.exec(name);
    if (m) {
      stored = Math.max(stored, Number(m[1]) + 1);
    }
  }
  if (stored > numLayers + extra) {
    throw new Error(
      `config.json: 'num_hidden_layers' is ${numLayers}, but the checkpoint holds ${stored} layers (model.layers.0…${stored - 1}); ` +
        `only the first ${numLayers} would run: set it to ${stored - extra} to analyse the whole model`,
    );
  }
  if (stored < numLayers) {
    throw new Error(
      `config.json: 'num_hidden_layers' is ${numLayers}, but the checkpoint holds only ${stored} layer${stored === 1 ? '' : 's'}` +
        (stored > 0 ? ` (model.layers.0…${stored - 1})` : ''),
    );
  }
}

export interface MemoryPlan {
  /** Every tensor widened to float32, as the loader keeps them. */
  weightBytes: number;
  /**
   * Made during the load besides: a linear weight is read as stored, then transposed, so the
   * largest one exists twice for a moment; tied embeddings add a transposed copy as the LM head.
   */
  extraBytes: number;
  peakBytes: number;
}

const EMBED = 'model.embed_tokens.weight';

export function planMemory(ckpt: Checkpoint, tiedEmbeddings: boolean): MemoryPlan {
  // An MXFP4 byte of `*_blocks` holds two values; its `*_scales` are consumed while dequantising.
  const mxfp4 = (name: string, suffix: string): boolean =>
    name.endsWith(suffix) && ckpt.info(name).dtype === 'U8' && ckpt.has(name.slice(0, -suffix.length) + (suffix === '_blocks' ? '_scales' : '_blocks'));
  const perElement = (name: string): number => (mxfp4(name, '_blocks') ? 8 : mxfp4(name, '_scales') ? 0 : 4);
  const f32Bytes = (name: string): number => ckpt.info(name).shape.reduce((a, b) => a * b, 1) * perElement(name);
  let weightBytes = 0;
  let largestLinear = 0;
  for (const name of ckpt.names()) {
    const bytes = f32Bytes(name);
    weightBytes += bytes;
    if (name !== EMBED && ckpt.info(name).shape.length === 2) {
      largestLinear = Math.max(largestLinear, bytes);
    }
  }
  const extraBytes = largestLinear + (tiedEmbeddings && ckpt.has(EMBED) ? f32Bytes(EMBED) : 0);
  return { weightBytes, extraBytes, peakBytes: weightBytes + extraBytes };
}

const GB = 1e9;

/** Refuses, before reading weights, a model whose float32 weights cannot fit the backend's heap (wasm: 4 GiB). */
export function assertFitsBackend(ckpt: Checkpoint, backend: string, tiedEmbeddings: boolean): void {
  const limit = tensorMemoryLimit(backend);
  if (limit === null) {
    return;
  }
  const plan = planMemory(ckpt, tiedEmbeddings);
  if (plan.peakBytes <= limit) {
    return;
  }
  throw new Error(
    `this model needs about ${(plan.peakBytes / GB).toFixed(1)} GB to load as float32 (${(plan.weightBytes / 4 / 1e9).toFixed(2)}B parameters), ` +
      `more than the ${(limit / GB).toFixed(1)} GB heap of the ${backend} backend, which holds at most about ${(limit / 4 / 1e9).toFixed(2)}B parameters: ` +
      'run it on the cpu backend (--backend cpu, or the moeLens.backend setting) or the node backend (@tensorflow/tfjs-node), or choose a smaller model',
  );
}
