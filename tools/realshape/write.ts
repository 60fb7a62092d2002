/**
 * @file Writes a ModelSpec as safetensors shards (+ model.safetensors.index.json when sharded) from
 * seeded pools of random values: each tensor is a window of its pool starting at an offset hashed
 * from the seed and its name, so gigabytes are written at disk speed without drawing a random
 * number per value. The values are plausible (weights ~N(0, 0.02), norm weights ~1, MXFP4 scales
 * near 2^-7), not trained: these checkpoints are for memory, speed and layout, never for numerics.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { Fill, ModelSpec, RealDtype, TensorDef } from './models';

const DTYPE_BYTES: Record<RealDtype, number> = { F32: 4, BF16: 2, U8: 1 };
/** safetensors' writer lays a file out by dtype (wider first), then by name. */
const DTYPE_RANK: Record<RealDtype, number> = { F32: 0, BF16: 1, U8: 2 };

export function tensorBytes(t: TensorDef): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

export interface ShardPlan {
  file: string;
  tensors: TensorDef[];
  bytes: number; // tensor data, as the index's total_size counts it
}

/** The shards the release's own tool would write, in order. One shard is written as model.safetensors. */
export function planShards(spec: ModelSpec): ShardPlan[] {
  const max = spec.sharding.maxShardBytes;
  const groups: TensorDef[][] = [];
  let current: TensorDef[] = [];
  let size = 0;
  for (const t of spec.tensors) {
    const b = tensorBytes(t);
    if (spec.sharding.kind === 'hf' && b > max) {
      groups.push([t]); // huggingface_hub: a tensor over the limit gets a shard of its own
      continue;
    }
    if (size + b > max && current.length > 0) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(t);
    size += b;
  }
  if (current.length > 0) {
    groups.push(current);
  }
  const n = groups.length;
  const pad = (i: number): string => String(i).padStart(5, '0');
  const fileName = (i: number): string =>
    n === 1 ? 'model.safetensors' : spec.sharding.kind === 'gpt-oss' ? `model-${pad(i)}-of-${pad(n - 1)}.safetensors` : `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
  return groups.map((tensors, i) => ({ file: fileName(i), tensors, bytes: tensors.reduce((s, t) => s + tensorBytes(t), 0) }));
}

// ---------------------------------------------------------------------------------------------
// Seeded pools
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small, fast, seedable 32-bit generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of the name, mixed with the seed: where in its pool a tensor starts. */
function startOffset(seed: number, name: string, poolBytes: number, align: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  }
  return ((h % Math.floor(poolBytes / align)) * align) >>> 0;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Pool sizes are odd numbers of elements, so a tensor larger than its pool does not repeat row-aligned. */
const NORMAL_VALUES = (1 << 24) + 43; // 32 MiB of bf16
const SMALL_VALUES = (1 << 16) + 1;
const BYTE_VALUES = (1 << 26) + 17; // 64 MiB of MXFP4 codes

function makePools(seed: number): Record<Fill, Buffer> {
  const r = rng(seed);
  const normal = new Uint16Array(NORMAL_VALUES);
  for (let i = 0; i < normal.length; i += 2) {
    // Box–Muller: two normals per pair of uniforms.
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = 0.02 * Math.sqrt(-2 * Math.log(u));
    normal[i] = bf16Bits(m * Math.cos(2 * Math.PI * v));
    if (i + 1 < normal.length) {
      normal[i + 1] = bf16Bits(m * Math.sin(2 * Math.PI * v));
    }
  }
  const ones = new Uint16Array(SMALL_VALUES).map(() => bf16Bits(1 + 0.05 * (r() - 0.5)));
  const blocks = new Uint8Array(BYTE_VALUES);
  for (let i = 0; i < blocks.length; i += 4) {
    const w = (r() * 4294967296) >>> 0;
    blocks[i] = w & 0xff;
    blocks[i + 1] = (w >>> 8) & 0xff;
    blocks[i + 2] = (w >>> 16) & 0xff;
    blocks[i + 3] = w >>> 24;
  }
  // 2^(s−127) for s in 119…121: |values| up to 6·2^-6, mean about 2^-6, like a trained expert's.
  const scales = Uint8Array.from({ length: SMALL_VALUES }, () => 119 + Math.floor(r() * 3));
  const buf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return { normal: buf(normal), ones: buf(ones), 'mxfp4-blocks': buf(blocks), 'mxfp4-scales': buf(scales) };
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

function sortedJson(value: unknown, indent: number): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sortKeys(value), null, indent) + '\n';
}

/** Writes one shard: the header, then each tensor's bytes straight from its pool, wrapping around. */
function writeShard(file: string, shard: ShardPlan, pools: Record<Fill, Buffer>, seed: number): void {
  const ordered = [...shard.tensors].sort((a, b) => DTYPE_RANK[a.dtype] - DTYPE_RANK[b.dtype] || (a.name < b.name ? -1 : 1));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of ordered) {
    const n = tensorBytes(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, text);
    for (const t of ordered) {
      const pool = pools[t.fill];
      let left = tensorBytes(t);
      let at = startOffset(seed, t.name, pool.length, DTYPE_BYTES[t.dtype]);
      while (left > 0) {
        const n = Math.min(left, pool.length - at);
        writeSync(fd, pool, at, n);
        left -= n;
        at = 0;
      }
    }
  } finally {
    closeSync(fd);
  }
}

export interface WriteOptions {
  seed: number;
  onShard?: (shard: ShardPlan, index: number, count: number, seconds: number) => void;
}

/** Writes config.json, the shards and (when sharded) model.safetensors.index.json into `dir`. */
export function writeCheckpoint(spec: ModelSpec, dir: string, opts: WriteOptions): ShardPlan[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), sortedJson(spec.config, 2));
  const shards = planShards(spec);
  const pools = makePools(opts.seed);
  shards.forEach((shard, i) => {
    const t0 = process.hrtime.bigint();
    writeShard(path.join(dir, shard.file), shard, pools, opts.seed);
    opts.onShard?.(shard, i, shards.length, Number(process.hrtime.bigint() - t0) / 1e9);
  });
  if (shards.length > 1) {
    const weightMap = Object.fromEntries(shards.flatMap((s) => s.tensors.map((t) => [t.name, s.file])));
    const total = shards.reduce((s, x) => s + x.bytes, 0);
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), sortedJson({ metadata: { total_size: total }, weight_map: weightMap }, 2));
  }
  return shards;
}
