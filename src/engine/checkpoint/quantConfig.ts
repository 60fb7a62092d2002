/**
 * @file config.json's `quantization_config`: which stored formats the loader dequantises (gpt-oss
 * MXFP4 experts, block FP8), and a one-line refusal, before any weight is read, for every other
 * method (GPTQ, AWQ, bitsandbytes, compressed-tensors, …), whose tensors are not float weights.
 */
import type { BlockSize } from './fp8Block';

export type Quantization = { method: 'mxfp4' } | { method: 'fp8'; blockSize: BlockSize };

/** FineGrainedFP8Config's default weight_block_size. */
const DEFAULT_FP8_BLOCK: BlockSize = [128, 128];

function fail(what: string): never {
  throw new Error(`config.json: quantization_config ${what}`);
}

/** null when the checkpoint is not quantised. */
export function parseQuantization(config: Record<string, unknown>): Quantization | null {
  const q = config.quantization_config;
  if (q === undefined || q === null) {
    return null;
  }
  if (typeof q !== 'object' || Array.isArray(q)) {
    fail('must be an object');
  }
  const qc = q as Record<string, unknown>;
  const method = qc.quant_method;
  if (method === 'mxfp4') {
    return { method: 'mxfp4' };
  }
  if (method === 'fp8') {
    if (qc.fmt !== undefined && qc.fmt !== 'e4m3') {
      fail(`'fmt' is ${JSON.stringify(qc.fmt)}; only block FP8 in e4m3 is read`);
    }
    // Static schemes carry activation scales the model was served with; MoE Lens never quantises activations.
    if (qc.activation_scheme !== undefined && qc.activation_scheme !== 'dynamic') {
      fail(`'activation_scheme' is ${JSON.stringify(qc.activation_scheme)}; only 'dynamic' (weights-only scales) is read`);
    }
    const b = qc.weight_block_size ?? DEFAULT_FP8_BLOCK;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((v) => Number.isInteger(v) && (v as number) > 0)) {
      fail(`'weight_block_size' must be two positive integers, got ${JSON.stringify(b)}`);
    }
    return { method: 'fp8', blockSize: [b[0] as number, b[1] as number] };
  }
  return fail(
    `'quant_method' is ${JSON.stringify(method)}; MoE Lens reads float checkpoints (F32/F16/BF16), gpt-oss MXFP4 and block FP8 ('fp8'): ` +
      'use the unquantised release of this model',
  );
}
