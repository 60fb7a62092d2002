/**
 * @file The ggml tensor types a GGUF file can name (ids and block sizes as llama.cpp's
 * gguf-py/gguf/constants.py lists them), which of them MoE Lens reads, and the GGUF metadata value
 * types. One table: the reader, the dequantisers, the writer and the memory plan all size blocks here.
 */
import type { Dtype } from '../dtypes';

/** Block-quantised types MoE Lens dequantises (TensorInfo.dtype of such a tensor). */
export type BlockType = 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'MXFP4' | 'IQ4_NL' | 'IQ4_XS';

/** A ggml type MoE Lens reads: a plain one (read as the safetensors dtype of the same name) or a block type. */
export type GgmlTypeName = 'F32' | 'F16' | 'BF16' | 'F64' | 'I8' | 'I16' | 'I32' | 'I64' | BlockType;

export interface GgmlType {
  id: number;
  name: string;
  /** Values per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  /** Whether MoE Lens reads it; refused ones are named in the error. */
  supported: boolean;
}

/** Every type id llama.cpp knows (constants.py GGMLQuantizationType / GGML_QUANT_SIZES). Ids 4, 5 and 31–33, 36–38 were removed upstream. */
const TABLE: readonly (readonly [number, string, number, number, boolean])[] = [
  [0, 'F32', 1, 4, true],
  [1, 'F16', 1, 2, true],
  [2, 'Q4_0', 32, 18, true],
  [3, 'Q4_1', 32, 20, true],
  [6, 'Q5_0', 32, 22, true],
  [7, 'Q5_1', 32, 24, true],
  [8, 'Q8_0', 32, 34, true],
  [9, 'Q8_1', 32, 36, false],
  [10, 'Q2_K', 256, 84, true],
  [11, 'Q3_K', 256, 110, true],
  [12, 'Q4_K', 256, 144, true],
  [13, 'Q5_K', 256, 176, true],
  [14, 'Q6_K', 256, 210, true],
  [15, 'Q8_K', 256, 292, false],
  [16, 'IQ2_XXS', 256, 66, false],
  [17, 'IQ2_XS', 256, 74, false],
  [18, 'IQ3_XXS', 256, 98, false],
  [19, 'IQ1_S', 256, 50, false],
  [20, 'IQ4_NL', 32, 18, true],
  [21, 'IQ3_S', 256, 110, false],
  [22, 'IQ2_S', 256, 82, false],
  [23, 'IQ4_XS', 256, 136, true],
  [24, 'I8', 1, 1, true],
  [25, 'I16', 1, 2, true],
  [26, 'I32', 1, 4, true],
  [27, 'I64', 1, 8, true],
  [28, 'F64', 1, 8, true],
  [29, 'IQ1_M', 256, 56, false],
  [30, 'BF16', 1, 2, true],
  [34, 'TQ1_0', 256, 54, false],
  [35, 'TQ2_0', 256, 66, false],
  [39, 'MXFP4', 32, 17, true],
  [40, 'NVFP4', 64, 36, false],
];

export const GGML_TYPES: ReadonlyMap<number, GgmlType> = new Map(
  TABLE.map(([id, name, blockSize, typeSize, supported]) => [id, { id, name, blockSize, typeSize, supported }]),
);

const BY_NAME: ReadonlyMap<string, GgmlType> = new Map([...GGML_TYPES.values()].map((t) => [t.name, t]));

export const SUPPORTED_TYPE_NAMES: readonly string[] = [...GGML_TYPES.values()].filter((t) => t.supported).map((t) => t.name);

/** The table entry of a type MoE Lens reads, by name (writer, dequantisers). */
export function ggmlType(name: GgmlTypeName): GgmlType {
  return BY_NAME.get(name) as GgmlType;
}

const BLOCK_TYPES: ReadonlySet<string> = new Set<BlockType>(['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'MXFP4', 'IQ4_NL', 'IQ4_XS']);

export function isBlockType(name: string): name is BlockType {
  return BLOCK_TYPES.has(name);
}

/** The safetensors dtype a plain ggml type reads as (same bytes, same widening). */
export function plainDtype(name: Exclude<GgmlTypeName, BlockType>): Dtype {
  return name;
}

/** Values per block and bytes per block of a block type. */
export function blockGeometry(name: BlockType): { blockSize: number; typeSize: number } {
  const t = ggmlType(name);
  return { blockSize: t.blockSize, typeSize: t.typeSize };
}

/** GGUF metadata value types (gguf spec, GGUFValueType). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Bytes of one value of a fixed-size metadata type; strings and arrays are 0 (variable). */
export const VALUE_BYTES: Readonly<Record<GgufValueType, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.STRING]: 0,
  [GgufValueType.ARRAY]: 0,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

export function isValueType(n: number): n is GgufValueType {
  return Number.isInteger(n) && n >= 0 && n <= 12;
}

/** The magic 'GGUF' read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: tensor names are at most 63 bytes. */
export const GGUF_MAX_NAME_BYTES = 63;
