/**
 * @file What the checkpoint's headers say before any weight is read (as llama.cpp sizes its
 * buffers before it maps a tensor): the checkpoint holds the layers config.json names, and the
 * memory plan (memoryPlan.ts) sizes each layer from them.
 */
import type { Checkpoint } from './checkpoint/checkpoint';

export const LAYER_NAME = /^model\.layers\.(\d+)\./;

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

/** Routed-expert weights, read only when routed to: per-expert modules (`….experts.3.…`, gpt-oss's fused `….experts.gate_up_proj`) and GraniteMoE's fused input/output_linear. */
export function isExpertTensor(name: string): boolean {
  return /\.experts\./.test(name) || /\.block_sparse_moe\.(input|output)_linear\./.test(name);
}

/** The checkpoint's layer number of a tensor, or null for the embedding, final norm and LM head. */
export function layerOf(name: string): number | null {
  const m = LAYER_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Float32 bytes per stored element once widened: 4, except an MXFP4 pair, whose `*_blocks` byte
 * holds two values (8) and whose `*_scales` are consumed while dequantising (0).
 */
export function widenedBytesPerElement(ckpt: Pick<Checkpoint, 'info' | 'has'>, name: string): number {
  const mxfp4 = (suffix: string, other: string): boolean =>
    name.endsWith(suffix) && ckpt.info(name).dtype === 'U8' && ckpt.has(name.slice(0, -suffix.length) + other);
  return mxfp4('_blocks', '_scales') ? 8 : mxfp4('_scales', '_blocks') ? 0 : 4;
}
