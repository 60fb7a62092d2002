/**
 * @file The engine's own kernels on tfjs' wasm backend: float32 matMul (replacing tfjs' BatchMatMul
 * for plain 2-D products, which is every matmul the engine makes outside attention), fused causal
 * attention ('MoeLensCausalAttention'), SwiGLU and RoPE in one pass each ('MoeLensSwiglu', 'MoeLensRope'), 2-D transposes (every
 * weight as it loads), and row gather / scatter-add for the routed experts (replacing GatherV2 and
 * ScatterNd on 2-D rows; rowKernels.ts), both on the heap tfjs already holds the tensors in, both
 * split over a second core when tfjs runs its threaded build (shared heap).
 *
 * Why not XNNPACK, which tfjs uses: its per-thread speed is about ours (bench/kernels.ts), but it packs
 * every new right-hand side into an operator it builds on first use (a cold process spends seconds
 * packing weights), and the per-head attention it is given costs a dozen tfjs ops each. Packed weights
 * are kept, as XNNPACK's were, until their tensor is disposed (`weightCopies` stays 2).
 * `MOE_LENS_KERNELS=tfjs` turns all of this off (tfjs' own kernels, as before).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { PANEL, packedFloats } from './gemmModule';
import { gemmModule, instantiateGemm, type GemmExports } from './kernelModule';
import { KernelPool, OP } from './kernelPool';
import { AttentionCall, attentionHeads, scratchBytes } from './attentionKernel';
import { attentionChunk } from './chunks';
import { gatherRows, scatterAddRows } from './rowKernels';

export const ATTENTION_KERNEL = 'MoeLensCausalAttention';
export const SWIGLU_KERNEL = 'MoeLensSwiglu';
export const ROPE_KERNEL = 'MoeLensRope';
export const BF16_TRANSPOSED_KERNEL = 'MoeLensBf16Transposed';
export const MAX_SUM_EXP_KERNEL = 'MoeLensRowMaxSumExp';

/** Thrown by the bf16 kernel when a value is NaN or ±Inf: the caller reads the tensor the general way, which names it. */
export class NonFiniteBf16 extends Error {}

/** Multiply-adds below which a matmul stays on one thread (waking the worker costs tens of µs). */
const SPLIT_MIN_MACS = 1 << 20;

interface HeapModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  asm?: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
}

interface Packed {
  ptr: number;
  k: number;
  n: number;
}

/** The kernels bound to one wasm backend instance. */
export class WasmKernels {
  private readonly heap: HeapModule;
  readonly memory: WebAssembly.Memory;
  private readonly gemm: GemmExports;
  private readonly pool: KernelPool | null;
  private readonly packed = new Map<object, Packed>();

  constructor(
    private readonly backend: BackendWasm,
    threads: number,
  ) {
    this.heap = backend.wasm as unknown as HeapModule;
    const memory = this.heap.asm?.memory ?? this.heap.wasmMemory;
    if (!memory) {
      throw new Error('the wasm backend does not expose its memory');
    }
    this.memory = memory;
    const shared = memory.buffer instanceof SharedArrayBuffer;
    const module = gemmModule(shared);
    this.gemm = instantiateGemm(module, memory);
    this.pool = shared && threads > 1 ? startPool(memory, module, threads) : null;
    // Packed right-hand sides live as long as their tensor's data.
    const dispose = backend.disposeData.bind(backend);
    backend.disposeData = (dataId: object, force?: boolean): boolean => {
      const freed = dispose(dataId, force);
      if (freed) {
        this.forget(dataId);
      }
      return freed;
    };
  }

  /** Threads a matmul or the attention is split over. */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Right-hand sides held packed now (tests: each is freed with its tensor). */
  get packedCount(): number {
    return this.packed.size;
  }

  private offset(t: tf.TensorInfo): number {
    return this.backend.dataIdMap.get(t.dataId).memoryOffset;
  }

  private forget(dataId: object): void {
    const p = this.packed.get(dataId);
    if (p) {
      this.heap._free(p.ptr);
      this.packed.delete(dataId);
    }
  }

  /** B [k, n] packed into panels, made on first use and kept with its tensor. */
  private packedOf(b: tf.TensorInfo, k: number, n: number): number {
    const cached = this.packed.get(b.dataId);
    if (cached && cached.k === k && cached.n === n) {
      return cached.ptr;
    }
    this.forget(b.dataId);
    const ptr = this.heap._malloc(packedFloats(k, n) * 4);
    this.gemm.pack(this.offset(b), n * 4, k, n, ptr);
    this.packed.set(b.dataId, { ptr, k, n });
    return ptr;
  }

  /** C [m, n8] = A · packed B, shared with the workers when large: in chunks of panels, or of rows when there are too few panels. */
  private runGemm(a: number, lda: number, bp: number, c: number, ldc: number, m: number, k: number, n8: number): void {
    const panels = n8 / PANEL;
    const pool = this.pool;
    if (!pool || m * k * n8 < SPLIT_MIN_MACS) {
      this.gemm.gemm(a, lda, bp, c, ldc, m, k, n8, 0, panels);
      return;
    }
    pool.shareGemm(this.gemm, a, lda, bp, c, ldc, m, k, n8);
  }

  /** a [m, k] · b [k, n] → [m, n], float32. */
  matMul(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    const [m, k] = a.shape;
    const n = b.shape[1];
    const out = this.backend.makeOutput([m, n], 'float32');
    if (m === 0 || n === 0) {
      return out;
    }
    const c = this.offset(out);
    if (k === 0) {
      new Float32Array(this.memory.buffer, c, m * n).fill(0);
      return out;
    }
    const bp = this.packedOf(b, k, n);
    const n8 = Math.ceil(n / PANEL) * PANEL;
    if (n8 === n) {
      this.runGemm(this.offset(a), k * 4, bp, c, n * 4, m, k, n8);
      return out;
    }
    // The last panel is partial: compute into padded rows, keep the first n columns.
    const tmp = this.heap._malloc(m * n8 * 4);
    try {
      this.runGemm(this.offset(a), k * 4, bp, tmp, n8 * 4, m, k, n8);
      const f = new Float32Array(this.memory.buffer);
      for (let i = 0; i < m; i++) {
        f.copyWithin(c / 4 + i * n, tmp / 4 + i * n8, tmp / 4 + i * n8 + n);
      }
    } finally {
      this.heap._free(tmp);
    }
    return out;
  }

  /** int32 row indices, each checked against `rows` as tfjs' own kernel does. */
  private rowIndices(kernel: string, indices: tf.TensorInfo, rows: number): Int32Array {
    const idx = this.backend.readSync(indices.dataId) as Int32Array;
    const bad = idx.find((i) => !(i >= 0 && i < rows));
    if (bad !== undefined) {
      throw new Error(`${kernel}: the index value ${bad} is not in [0, ${rows - 1}]`);
    }
    return idx;
  }

  /** Rows of a 2-D float32 x, by int32 indices (checked against x's rows, as tfjs does). */
  gather(x: tf.TensorInfo, indices: tf.TensorInfo): tf.TensorInfo {
    const [rows, cols] = x.shape;
    const idx = this.rowIndices('GatherV2', indices, rows);
    const out = this.backend.makeOutput([idx.length, cols], 'float32');
    gatherRows(new Float32Array(this.memory.buffer), this.offset(x) / 4, cols, idx, this.offset(out) / 4);
    return out;
  }

  /** ScatterNd of whole rows: indices [n, 1] into [rows, cols], duplicates summed in order. */
  scatterRows(indices: tf.TensorInfo, updates: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo {
    const idx = this.rowIndices('ScatterNd', indices, rows);
    const out = this.backend.makeOutput([rows, cols], 'float32');
    scatterAddRows(new Float32Array(this.memory.buffer), this.offset(updates) / 4, cols, idx, this.offset(out) / 4, rows);
    return out;
  }

  /** gate|up [n, 2w] → silu(gate) ⊙ up [n, w] (w a multiple of 4: `swigluFits`). */
  swiglu(x: tf.TensorInfo): tf.TensorInfo {
    const [n, w2] = x.shape;
    const out = this.backend.makeOutput([n, w2 / 2], 'float32');
    if (n > 0) {
      this.gemm.swiglu(this.offset(x), n, w2 / 2, this.offset(out));
    }
    return out;
  }

  /**
   * bf16 matrices [rows, cols], given as their stored bytes, → float32 [cols, rows·parts]: each part
   * transposed, side by side (a fused gate|up). Throws NonFiniteBf16 (freeing the output) if a value is
   * NaN or ±Inf. The bytes are staged above the output and freed at once, so the heap keeps no holes.
   */
  bf16Transposed(parts: readonly Uint8Array[], rows: number, cols: number): tf.TensorInfo {
    const width = rows * parts.length;
    const out = this.backend.makeOutput([cols, width], 'float32');
    const partBytes = rows * cols * 2;
    const flag = this.heap._malloc(16 + partBytes * parts.length); // the flag, then the parts
    const staging = flag + 16;
    let bad: boolean;
    try {
      const bytes = new Uint8Array(this.memory.buffer);
      parts.forEach((p, i) => bytes.set(p.subarray(0, partBytes), staging + i * partBytes));
      new Int32Array(this.memory.buffer, flag, 1)[0] = 0;
      parts.forEach((_, i) => this.gemm.bf16t(staging + i * partBytes, rows, cols, this.offset(out) + i * rows * 4, width, flag));
      bad = new Int32Array(this.memory.buffer, flag, 1)[0] !== 0;
    } finally {
      this.heap._free(flag);
    }
    if (bad) {
      this.backend.disposeData(out.dataId);
      throw new NonFiniteBf16('a bf16 weight holds NaN or ±Inf');
    }
    return out;
  }

  /** logits [T, n] (n a multiple of 4: `maxSumExpFits`) → [T, 2]: each row's max and Σ exp(x − max). */
  rowMaxSumExp(x: tf.TensorInfo): tf.TensorInfo {
    const [T, n] = x.shape;
    const out = this.backend.makeOutput([T, 2], 'float32');
    if (T > 0) {
      this.gemm.rowMaxSumExp(this.offset(x), T, n, this.offset(out));
    }
    return out;
  }

  static maxSumExpFits(n: number): boolean {
    return n > 0 && n % 4 === 0;
  }

  /** x [rows, cols] → xᵀ [cols, rows], float32. */
  transpose2d(x: tf.TensorInfo): tf.TensorInfo {
    const [rows, cols] = x.shape;
    const out = this.backend.makeOutput([cols, rows], 'float32');
    if (rows > 0 && cols > 0) {
      this.gemm.transpose(this.offset(x), rows, cols, this.offset(out));
    }
    return out;
  }

  /** x [T, H, dim], cos/sin [T, dim] → x·cos + rotate_half(x)·sin (dim/2 a multiple of 4: `ropeFits`). */
  rope(x: tf.TensorInfo, cos: tf.TensorInfo, sin: tf.TensorInfo): tf.TensorInfo {
    const [T, H, dim] = x.shape;
    const out = this.backend.makeOutput([T, H, dim], 'float32');
    if (T > 0 && H > 0) {
      this.gemm.rope(this.offset(x), T, H, dim, this.offset(cos), this.offset(sin), this.offset(out));
    }
    return out;
  }

  static ropeFits(dim: number): boolean {
    return dim % 8 === 0;
  }

  static swigluFits(width: number): boolean {
    return width % 4 === 0;
  }

  /** Can the fused attention take these shapes? (its output columns must be whole panels per head) */
  static attentionFits(hdv: number): boolean {
    return hdv % PANEL === 0;
  }

  /** q [T, H, hd], k [S, KV, hd], v [S, KV, hdv] (S = P + T) → [T, H·hdv]; query blocks of `block` rows at fixed positions. */
  attention(q: tf.TensorInfo, k: tf.TensorInfo, v: tf.TensorInfo, scale: number, window: number, block: number): tf.TensorInfo {
    const [T, H, hd] = q.shape;
    const [S, KV] = k.shape;
    const hdv = v.shape[2];
    const out = this.backend.makeOutput([T, H * hdv], 'float32');
    if (T === 0) {
      return out;
    }
    const sizes = scratchBytes(block, S, hd, hdv);
    // Chunks of whole groups where there are enough groups, so a chunk packs its group's keys once per block.
    const threads = this.pool?.threads ?? 1;
    const unit = KV >= Math.min(threads, H) ? H / KV : 1;
    const scratch = Array.from({ length: threads }, () => ({
      scores: this.heap._malloc(sizes.scores),
      keys: this.heap._malloc(sizes.keys),
      values: this.heap._malloc(sizes.values),
    }));
    try {
      const call = new AttentionCall(this.offset(q), this.offset(k), this.offset(v), this.offset(out), T, S - T, H, KV, hd, hdv, window, block, 0, H, 0, 0, 0, scale);
      if (!this.pool || H === 1) {
        attentionHeads(this.gemm, call.withHeads(0, H, scratch[0]));
      } else {
        const chunks = H / unit;
        const own = call.withHeads(0, H, scratch[0]);
        this.pool.share(chunks, (w) => ({ op: OP.ATTENTION, args: [...call.withHeads(0, H, scratch[w]).ints(), unit, chunks], floats: [scale] }), (i) => attentionChunk(this.gemm, own, unit, i));
      }
    } finally {
      for (const s of scratch) {
        this.heap._free(s.scores);
        this.heap._free(s.keys);
        this.heap._free(s.values);
      }
    }
    return out;
  }

  dispose(): void {
    this.pool?.dispose();
  }
}

/** A worker per extra thread; without its script (an unusual bundle) the kernels run on one thread, said once. */
function startPool(memory: WebAssembly.Memory, module: WebAssembly.Module, threads: number): KernelPool | null {
  try {
    return new KernelPool(memory, module, threads);
  } catch (err) {
    process.stderr.write(`moe-lens: kernel worker threads unavailable (${err instanceof Error ? err.message : String(err)}); running on one thread\n`);
    return null;
  }
}

let installed: WasmKernels | null = null;

/** False under MOE_LENS_KERNELS=tfjs: tfjs' own kernels (XNNPACK's threads), as before the engine had its own. */
export function ownKernelsWanted(): boolean {
  return process.env.MOE_LENS_KERNELS !== 'tfjs';
}

/** The kernels of the running wasm backend, or null (other backend, or turned off). */
export function wasmKernels(): WasmKernels | null {
  return installed;
}

/** Whether tfjs is on the wasm backend now with the engine's kernels in place (a test may switch backends in one process). */
export function ownKernelsActive(): boolean {
  return installed !== null && tf.getBackend() === 'wasm';
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Inputs = Record<string, tf.TensorInfo>;

/** Puts `take` in front of tfjs' wasm kernel `name`: it answers the cases it knows (non-null), the original the rest. */
function overrideKernel(name: string, take: (inputs: Inputs, attrs: Record<string, unknown>) => tf.TensorInfo | null): void {
  const original = tf.getKernel(name, 'wasm');
  if (!original) {
    return;
  }
  tf.unregisterKernel(name, 'wasm');
  const kernelFunc = (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => take(args.inputs as Inputs, (args.attrs ?? {}) as Record<string, unknown>) ?? original.kernelFunc(args);
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
}

/** Registers one of the engine's own ops ('MoeLens…'), run through tf.engine().runKernel. */
function ownKernel(name: string, run: (inputs: Inputs, attrs: Record<string, unknown>) => tf.TensorInfo): void {
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: (args) => run(args.inputs as Inputs, (args.attrs ?? {}) as Record<string, unknown>) });
}

const isF32 = (t: tf.TensorInfo, rank: number): boolean => t.dtype === 'float32' && t.shape.length === rank;

/**
 * Puts the engine's kernels in place on the wasm backend that just started (once per process):
 * BatchMatMul answers plain 2-D float32 products itself and hands everything else to tfjs' kernel.
 */
export function installWasmKernels(threads: number): WasmKernels | null {
  if (installed || !ownKernelsWanted()) {
    return installed;
  }
  const backend = tf.findBackend('wasm') as BackendWasm | null;
  if (!backend || !tf.getKernel('BatchMatMul', 'wasm')) {
    return null;
  }
  const k = new WasmKernels(backend, threads);
  overrideKernel('BatchMatMul', ({ a, b }, { transposeA, transposeB }) => (isF32(a, 2) && isF32(b, 2) && !transposeA && !transposeB ? k.matMul(a, b) : null));
  overrideKernel('GatherV2', ({ x, indices }, { axis, batchDims }) =>
    isF32(x, 2) && indices.dtype === 'int32' && indices.shape.length === 1 && (axis === 0 || axis === -2) && !batchDims ? k.gather(x, indices) : null,
  );
  overrideKernel('ScatterNd', ({ indices, updates }, attrs) => {
    const shape = attrs.shape as number[];
    const rows = shape.length === 2 && isF32(updates, 2) && indices.dtype === 'int32' && indices.shape.length === 2 && indices.shape[1] === 1 && updates.shape[1] === shape[1];
    return rows ? k.scatterRows(indices, updates, shape[0], shape[1]) : null;
  });
  overrideKernel('Transpose', ({ x }, attrs) => {
    const perm = attrs.perm as number[];
    return isF32(x, 2) && perm[0] === 1 && perm[1] === 0 ? k.transpose2d(x) : null;
  });
  ownKernel(ROPE_KERNEL, ({ x, cos, sin }) => k.rope(x, cos, sin));
  ownKernel(MAX_SUM_EXP_KERNEL, ({ x }) => k.rowMaxSumExp(x));
  ownKernel(BF16_TRANSPOSED_KERNEL, (_inputs, a) => k.bf16Transposed(a.stored as Uint8Array[], a.rows as number, a.cols as number));
  ownKernel(SWIGLU_KERNEL, ({ x }) => k.swiglu(x));
  ownKernel(ATTENTION_KERNEL, ({ q, k: keys, v }, a) => k.attention(q, keys, v, a.scale as number, a.window as number, a.block as number));
  installed = k;
  return k;
}
