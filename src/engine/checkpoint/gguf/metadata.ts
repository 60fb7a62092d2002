/**
 * @file Typed access to GGUF metadata: each accessor names the key, what it holds and what was
 * expected, so a file with an odd value gets one clear error (llama.cpp writes the same key with
 * different integer widths across versions: every integer type is accepted where an integer is asked for).
 */
import { CheckpointError } from '../errors';
import { valueTypeName, type GgufArray, type GgufEntry } from './reader';
import { GgufValueType } from './types';

export type GgufMetadata = ReadonlyMap<string, GgufEntry>;

const INTEGER_TYPES: ReadonlySet<GgufValueType> = new Set([
  GgufValueType.UINT8, GgufValueType.INT8, GgufValueType.UINT16, GgufValueType.INT16,
  GgufValueType.UINT32, GgufValueType.INT32, GgufValueType.UINT64, GgufValueType.INT64,
]);

function bad(key: string, e: GgufEntry, want: string): CheckpointError {
  const held = e.type === GgufValueType.ARRAY ? `an array of ${valueTypeName(e.itemType ?? -1)}` : valueTypeName(e.type);
  return new CheckpointError(`GGUF metadata ${JSON.stringify(key)} is ${held}, but ${want} is expected`);
}

function entry(meta: GgufMetadata, key: string): GgufEntry | undefined {
  return meta.get(key);
}

/** An integer value of any integer type, as a safe number; undefined when the key is absent. */
export function metaInt(meta: GgufMetadata, key: string): number | undefined {
  const e = entry(meta, key);
  if (!e) {
    return undefined;
  }
  if (!INTEGER_TYPES.has(e.type)) {
    throw bad(key, e, 'an integer');
  }
  const v = e.value as number | bigint;
  if (typeof v === 'bigint' && (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))) {
    throw new CheckpointError(`GGUF metadata ${JSON.stringify(key)} is ${v}, past 2^53`);
  }
  return Number(v);
}

/** A float (FLOAT32/FLOAT64) or integer value as a number; undefined when absent. */
export function metaFloat(meta: GgufMetadata, key: string): number | undefined {
  const e = entry(meta, key);
  if (!e) {
    return undefined;
  }
  if (e.type === GgufValueType.FLOAT32 || e.type === GgufValueType.FLOAT64) {
    return e.value as number;
  }
  if (INTEGER_TYPES.has(e.type)) {
    return metaInt(meta, key);
  }
  throw bad(key, e, 'a number');
}

export function metaBool(meta: GgufMetadata, key: string): boolean | undefined {
  const e = entry(meta, key);
  if (!e) {
    return undefined;
  }
  if (e.type !== GgufValueType.BOOL) {
    throw bad(key, e, 'a bool');
  }
  return e.value as boolean;
}

export function metaString(meta: GgufMetadata, key: string): string | undefined {
  const e = entry(meta, key);
  if (!e) {
    return undefined;
  }
  if (e.type !== GgufValueType.STRING) {
    throw bad(key, e, 'a string');
  }
  return e.value as string;
}

/** An array of strings (tokenizer.ggml.tokens, merges); undefined when absent. */
export function metaStrings(meta: GgufMetadata, key: string): readonly string[] | undefined {
  const e = entry(meta, key);
  if (!e) {
    return undefined;
  }
  if (e.type !== GgufValueType.ARRAY || e.itemType !== GgufValueType.STRING) {
    throw bad(key, e, 'an array of strings');
  }
  return e.value as string[];
}

/**
 * An array of numbers of any numeric item type (scores FLOAT32, token_type INT32, a per-layer
 * head count), as a typed array or plain numbers; 64-bit items are converted with a range check.
 */
export function metaNumbers(meta: GgufMetadata, key: string): ArrayLike<number> | undefined {
  const e = entry(meta, key);
  if (!e) {
    return undefined;
  }
  const item = e.itemType;
  if (e.type !== GgufValueType.ARRAY || item === undefined || !(INTEGER_TYPES.has(item) || item === GgufValueType.FLOAT32 || item === GgufValueType.FLOAT64)) {
    throw bad(key, e, 'an array of numbers');
  }
  const v = e.value as GgufArray;
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) {
    return Array.from(v, (x) => {
      if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new CheckpointError(`GGUF metadata ${JSON.stringify(key)} holds ${x}, past 2^53`);
      }
      return Number(x);
    });
  }
  return v as ArrayLike<number>;
}

/** A value that is either one integer or an array of per-layer integers (llama.cpp allows both for head counts). */
export function metaIntOrPerLayer(meta: GgufMetadata, key: string): number | ArrayLike<number> | undefined {
  const e = entry(meta, key);
  return e?.type === GgufValueType.ARRAY ? metaNumbers(meta, key) : metaInt(meta, key);
}
