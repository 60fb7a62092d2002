/**
 * @file Compiling the engine's generated kernels once per process, with the fused multiply-add of
 * relaxed SIMD where the runtime has it: on by default in VS Code's Electron and Node ≥ 22, behind a
 * V8 flag in Node 20, which may be set at run time before the first module that uses it compiles.
 * `MOE_LENS_FMA=0` forces the plain multiply + add (same results on every CPU; slower).
 */
import * as v8 from 'node:v8';
import { gemmModuleBytes } from './gemmModule';

/** A module whose only function is one relaxed multiply-add: does this runtime accept it? */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20,
  0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

let fma: boolean | null = null;

/** Whether kernels use relaxed SIMD's multiply-add (decided once: the flag can only be turned on). */
export function kernelsUseFma(): boolean {
  if (fma === null) {
    if (process.env.MOE_LENS_FMA === '0') {
      fma = false;
    } else {
      if (!WebAssembly.validate(RELAXED_PROBE)) {
        v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      }
      fma = WebAssembly.validate(RELAXED_PROBE);
    }
  }
  return fma;
}

const modules = new Map<boolean, WebAssembly.Module>();

/** The GEMM module for a shared (threaded tfjs build) or private heap. */
export function gemmModule(sharedMemory: boolean): WebAssembly.Module {
  let m = modules.get(sharedMemory);
  if (!m) {
    const bytes = gemmModuleBytes({ fma: kernelsUseFma(), sharedMemory });
    // Optimised code from the start: V8 otherwise runs a function's first calls as baseline code and
    // tiers up only between calls, and one call here can be a second-long matmul. Small module, fast compile.
    v8.setFlagsFromString('--no-wasm-dynamic-tiering');
    try {
      m = new WebAssembly.Module(bytes);
    } finally {
      v8.setFlagsFromString('--wasm-dynamic-tiering');
    }
    modules.set(sharedMemory, m);
  }
  return m;
}

/** What an instance of the GEMM module exports (pointers are byte offsets into the heap). */
export interface GemmExports {
  gemm(a: number, lda: number, bp: number, c: number, ldc: number, m: number, k: number, n8: number, p0: number, p1: number): void;
  pack(b: number, ldb: number, k: number, n: number, dst: number): void;
  packT(src: number, ld: number, k: number, n: number, dst: number): void;
  softmax(base: number, rows: number, ld: number, n: number, pos0: number, from: number, window: number, scale: number): void;
  swiglu(src: number, rows: number, width: number, dst: number): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  rope(x: number, rows: number, heads: number, dim: number, cos: number, sin: number, out: number): void;
  bf16t(src: number, rows: number, cols: number, dst: number, ldd: number, flag: number): void;
  rowMaxSumExp(src: number, rows: number, n: number, dst: number): void;
}

export function instantiateGemm(module: WebAssembly.Module, memory: WebAssembly.Memory): GemmExports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
}
