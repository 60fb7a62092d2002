/**
 * @file ggml's MXFP4 blocks (gpt-oss GGUF experts) → float32, bit-exact against llama.cpp's
 * gguf-py quants.py. A block is one E8M0 scale byte e and 16 bytes of E2M1 codes: value j < 16 is
 * byte j's low nibble, j + 16 its high nibble. ggml stores the codes doubled (0, 1, 2, 3, 4, 6, 8,
 * 12, …) and halves the scale (ggml_e8m0_to_fp32_half), so value = code × 2^(e − 128) — the same
 * numbers as the safetensors MXFP4 of checkpoint/mxfp4.ts, in ggml's layout (no transpose here).
 */

/** E2M1 codes doubled, as ggml's kvalues_mxfp4. */
const KVALUES = Int8Array.of(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);

let table: Float32Array | undefined;

/** value[e · 16 + code], each one float32 multiply as in numpy. */
function values(): Float32Array {
  if (!table) {
    table = new Float32Array(256 * 16);
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    for (let e = 0; e < 256; e++) {
      bits[0] = e < 2 ? 0x00200000 << e : (e - 1) << 23;
      for (let c = 0; c < 16; c++) {
        table[e * 16 + c] = f[0] * KVALUES[c];
      }
    }
  }
  return table;
}

export function dequantMxfp4Blocks(src: Uint8Array, out: Float32Array, blocks: number): void {
  const v = values();
  for (let b = 0; b < blocks; b++) {
    const p = b * 17;
    const o = b * 32;
    const row = src[p] * 16;
    for (let j = 0; j < 16; j++) {
      const byte = src[p + 1 + j];
      out[o + j] = v[row + (byte & 0x0f)];
      out[o + j + 16] = v[row + (byte >> 4)];
    }
  }
}
