/**
 * @file The engine's float32 matrix multiply, C = A·B, as a generated WebAssembly SIMD module.
 *
 * B is packed once (weights: when first used; see wasmMatMul.ts) into panels of 8 columns, K in
 * blocks of KC rows, so the inner loop reads B contiguously; A is read in place. A register tile of
 * MR rows × 8 columns (2·MR f32x4 accumulators) walks a k-block; the blocks over k are visited in
 * order, so each element of C is summed in the same order whatever M, the row blocking or the
 * thread split are: a row's result never depends on the rows computed with it (incremental
 * re-analysis relies on that). With relaxed SIMD the multiply-add is one fused instruction.
 *
 * Exports, all pointers byte offsets into the imported memory:
 *  - pack(b, ldb, k, n, dst): B [k, n] with row stride ldb → dst, k·n8 floats (n8 = n rounded up to 8;
 *    the padding columns are zero).
 *  - packT(src, ld, k, n, dst): the same from B given transposed (B[kk][j] at src + j·ld + kk·4).
 *  - gemm(a, lda, bp, c, ldc, m, k, n8, p0, p1): rows 0 … m−1 of C, panels p0 … p1−1 (columns
 *    8·p0 … 8·p1−1; C must have room for them), from A [m, k] (row stride lda) and packed B.
 */
import { emitter, Locals, op, ValType, type WasmFunction, wasmModule } from './wasmBinary';
import { softmaxFunction } from './softmaxKernel';
import { swigluFunction } from './swigluKernel';
import { transposeFunction } from './transposeKernel';
import { ropeFunction } from './ropeKernel';
import { bf16TransposeFunction } from './bf16Kernel';
import { rowMaxSumExpFunction } from './logSumExpKernel';

/**
 * Rows of the register tile. V8's optimising compiler schedules every load of a loop body ahead of the
 * arithmetic, so all of one k-step's loads are live at once with the accumulators: 4 rows × 2
 * accumulators + 2 B vectors + 4 broadcasts = 14 of x64's 15 usable xmm registers. A 6-row tile (or any
 * unrolling) spilled to the stack between the FMAs: 26 GFLOP/s a thread, against 41 for this one
 * (2048×1024·1024×1024, relaxed-SIMD FMA; bench/kernels.ts).
 */
export const TILE_ROWS = 4;
/** Columns of a packed panel (two f32x4). */
export const PANEL = 8;
/** Rows of B per k-block: one panel's block is KC·8·4 = 8 KiB, at home in L1. */
export const KC = 256;
/** Rows of A per block (a multiple of TILE_ROWS): MC·KC·4 = 120 KiB of A stay in L2 across the panels. */
export const MC = 120;
/** k-steps per trip of the tile's inner loop: 1, for the reason TILE_ROWS gives. */
const UNROLL = 1;

const TILE_PARAMS = ['a', 'lda', 'bp', 'c', 'ldc', 'm', 'kc', 'panels', 'acc'];

/**
 * tile_R(a, lda, bp, c, ldc, m, kc, panels, acc): for each panel, rows 0 … m−1 in steps of R (m a
 * multiple of R): C[rows, panel] = (acc ? C : 0) + A[rows, 0 … kc−1] · panel block (kc × 8).
 */
function tileFunction(R: number, fma: boolean): WasmFunction {
  const L = new Locals(TILE_PARAMS);
  for (const n of ['p', 'i', 'k', 'kEnd', 'bcur', 'bpanel', 'ccur', 'cpanel', 'arow']) {
    L.add(n, ValType.i32);
  }
  for (let r = 0; r < R; r++) {
    L.add(`a${r}`, ValType.i32);
  }
  for (let r = 0; r < R; r++) {
    L.add(`c${r}l`, ValType.v128);
    L.add(`c${r}h`, ValType.v128);
  }
  for (const n of ['bl', 'bh', 's']) {
    L.add(n, ValType.v128);
  }
  const { code, e } = emitter();
  const rowPtr = (base: string, stride: string, r: number): number[] => (r === 0 ? L.get(base) : [...L.get(base), ...L.get(stride), ...op.i32(r), ...op.mul, ...op.add]);
  const step = (offset: number): void => {
    e(L.get('bcur'), op.v128Load(offset * 32), L.set('bl'), L.get('bcur'), op.v128Load(offset * 32 + 16), L.set('bh'));
    for (let r = 0; r < R; r++) {
      e(L.get(`a${r}`), op.load32Splat(offset * 4), L.set('s'));
      for (const half of ['l', 'h']) {
        const acc = `c${r}${half}`;
        if (fma) {
          e(L.get('s'), L.get(`b${half}`), L.get(acc), op.f32x4RelaxedMadd, L.set(acc));
        } else {
          e(L.get(acc), L.get('s'), L.get(`b${half}`), op.f32x4Mul, op.f32x4Add, L.set(acc));
        }
      }
    }
  };
  const advance = (n: number): void => {
    for (let r = 0; r < R; r++) {
      e(L.get(`a${r}`), op.i32(n * 4), op.add, L.set(`a${r}`));
    }
    e(L.get('bcur'), op.i32(n * 32), op.add, L.set('bcur'), L.get('k'), op.i32(n), op.add, L.set('k'));
  };

  e(L.get('bp'), L.set('bpanel'), L.get('c'), L.set('cpanel'), op.i32(0), L.set('p'));
  e(op.block, op.loop, L.get('p'), L.get('panels'), op.geS, op.brIf(1)); // panels
  e(L.get('a'), L.set('arow'), L.get('cpanel'), L.set('ccur'), op.i32(0), L.set('i'));
  e(op.block, op.loop, L.get('i'), L.get('m'), op.geS, op.brIf(1)); // row tiles
  for (let r = 0; r < R; r++) {
    e(rowPtr('arow', 'lda', r), L.set(`a${r}`));
  }
  for (let r = 0; r < R; r++) {
    for (const [half, off] of [['l', 0], ['h', 16]] as const) {
      e(L.get('acc'), op.if, rowPtr('ccur', 'ldc', r), op.v128Load(off), L.set(`c${r}${half}`), op.else, op.v128Zero, L.set(`c${r}${half}`), op.end);
    }
  }
  e(L.get('bpanel'), L.set('bcur'), op.i32(0), L.set('k'), L.get('kc'), op.i32(UNROLL - 1), op.sub, L.set('kEnd'));
  e(op.block, op.loop, L.get('k'), L.get('kEnd'), op.geS, op.brIf(1)); // k, UNROLL at a time
  for (let u = 0; u < UNROLL; u++) {
    step(u);
  }
  advance(UNROLL);
  e(op.br(0), op.end, op.end);
  e(op.block, op.loop, L.get('k'), L.get('kc'), op.geS, op.brIf(1)); // the k remainder, one at a time
  step(0);
  advance(1);
  e(op.br(0), op.end, op.end);
  for (let r = 0; r < R; r++) {
    e(rowPtr('ccur', 'ldc', r), L.get(`c${r}l`), op.v128Store(0), rowPtr('ccur', 'ldc', r), L.get(`c${r}h`), op.v128Store(16));
  }
  e(L.get('arow'), L.get('lda'), op.i32(R), op.mul, op.add, L.set('arow'));
  e(L.get('ccur'), L.get('ldc'), op.i32(R), op.mul, op.add, L.set('ccur'));
  e(L.get('i'), op.i32(R), op.add, L.set('i'), op.br(0), op.end, op.end);
  e(L.get('bpanel'), L.get('kc'), op.i32(PANEL * 4), op.mul, op.add, L.set('bpanel'));
  e(L.get('cpanel'), op.i32(PANEL * 4), op.add, L.set('cpanel'));
  e(L.get('p'), op.i32(1), op.add, L.set('p'), op.br(0), op.end, op.end);
  return { name: null, params: TILE_PARAMS.map(() => ValType.i32), locals: L.list(), code };
}

/** min(x, y) of two i32 expressions. */
const minS = (x: number[], y: number[]): number[] => [...x, ...y, ...x, ...y, ...op.ltS, ...op.select];

/** gemm(a, lda, bp, c, ldc, m, k, n8, p0, p1): the k-blocks in order, row blocks of MC, tiles of TILE_ROWS then the rest. */
function gemmFunction(tileIndex: (rows: number) => number): WasmFunction {
  const L = new Locals(['a', 'lda', 'bp', 'c', 'ldc', 'm', 'k', 'n8', 'p0', 'p1']);
  for (const n of ['kb', 'kcb', 'i0', 'rows', 'full', 'ta', 'tb', 'tc']) {
    L.add(n, ValType.i32);
  }
  const { code, e } = emitter();
  const callTile = (R: number, rowsExpr: number[], rowOffsetExpr: number[]): void => {
    // a + (i0 + off)·lda + kb·4, packed block (kb·n8 + p0·kcb·8)·4, c + (i0 + off)·ldc + p0·32
    e(L.get('a'), L.get('i0'), rowOffsetExpr, op.add, L.get('lda'), op.mul, op.add, L.get('kb'), op.i32(4), op.mul, op.add);
    e(L.get('lda'));
    e(L.get('tb'));
    e(L.get('c'), L.get('i0'), rowOffsetExpr, op.add, L.get('ldc'), op.mul, op.add, L.get('p0'), op.i32(PANEL * 4), op.mul, op.add);
    e(L.get('ldc'), rowsExpr, L.get('kcb'), L.get('p1'), L.get('p0'), op.sub, L.get('kb'));
    e(op.call(tileIndex(R)));
  };
  e(op.i32(0), L.set('kb'));
  e(op.block, op.loop, L.get('kb'), L.get('k'), op.geS, op.brIf(1)); // k-blocks
  e(minS(op.i32(KC), [...L.get('k'), ...L.get('kb'), ...op.sub]), L.set('kcb'));
  e(L.get('bp'), L.get('kb'), L.get('n8'), op.mul, L.get('p0'), L.get('kcb'), op.mul, op.i32(PANEL), op.mul, op.add, op.i32(4), op.mul, op.add, L.set('tb'));
  e(op.i32(0), L.set('i0'));
  e(op.block, op.loop, L.get('i0'), L.get('m'), op.geS, op.brIf(1)); // row blocks
  e(minS(op.i32(MC), [...L.get('m'), ...L.get('i0'), ...op.sub]), L.set('rows'));
  // full tiles: rows − rows mod TILE_ROWS (MC is a multiple of TILE_ROWS, so only the last block has a rest)
  e(L.get('rows'), L.get('rows'), op.i32(TILE_ROWS), [0x6f /* i32.rem_s */], op.sub, L.set('full'));
  e(L.get('full'), op.eqz, op.eqz, op.if);
  callTile(TILE_ROWS, L.get('full'), op.i32(0));
  e(op.end);
  for (let R = 1; R < TILE_ROWS; R++) {
    e(L.get('rows'), L.get('full'), op.sub, op.i32(R), [0x46 /* i32.eq */], op.if);
    callTile(R, op.i32(R), L.get('full'));
    e(op.end);
  }
  e(L.get('i0'), op.i32(MC), op.add, L.set('i0'), op.br(0), op.end, op.end);
  e(L.get('kb'), op.i32(KC), op.add, L.set('kb'), op.br(0), op.end, op.end);
  return { name: 'gemm', params: new Array<ValType>(10).fill(ValType.i32), locals: L.list(), code };
}

/** panels = ⌈n / 8⌉, then opens the loop over k-blocks: kb from 0 in steps of KC, kcb = min(KC, k − kb). */
function packPrologue(L: Locals): number[] {
  return [
    ...L.get('n'), ...op.i32(PANEL - 1), ...op.add, ...op.i32(3), 0x75 /* i32.shr_s */, ...L.set('panels'),
    ...op.i32(0), ...L.set('kb'),
    ...op.block, ...op.loop, ...L.get('kb'), ...L.get('k'), ...op.geS, ...op.brIf(1),
    ...minS(op.i32(KC), [...L.get('k'), ...L.get('kb'), ...op.sub]), ...L.set('kcb'),
  ];
}

/**
 * pack(b, ldb, k, n, dst): per k-block, per panel, kcb rows of 8 floats (zeros past column n).
 * Walks B row by row (reads in order, writes 8 floats to each panel), as B is much larger than cache.
 */
function packFunction(): WasmFunction {
  const L = new Locals(['b', 'ldb', 'k', 'n', 'dst']);
  for (const n of ['kb', 'kcb', 'p', 'panels', 'kk', 'src', 'j', 'col', 'base', 'to']) {
    L.add(n, ValType.i32);
  }
  const { code, e } = emitter();
  e(packPrologue(L));
  // this block's panels start at dst + kb·n8·4
  e(L.get('dst'), L.get('kb'), L.get('panels'), op.mul, op.i32(PANEL * 4), op.mul, op.add, L.set('base'));
  e(op.i32(0), L.set('kk'));
  e(op.block, op.loop, L.get('kk'), L.get('kcb'), op.geS, op.brIf(1));
  e(L.get('b'), L.get('kb'), L.get('kk'), op.add, L.get('ldb'), op.mul, op.add, L.set('src')); // row kb + kk
  e(op.i32(0), L.set('p'));
  e(op.block, op.loop, L.get('p'), L.get('panels'), op.geS, op.brIf(1));
  // to = base + (p·kcb + kk)·32
  e(L.get('base'), L.get('p'), L.get('kcb'), op.mul, L.get('kk'), op.add, op.i32(PANEL * 4), op.mul, op.add, L.set('to'));
  e(L.get('p'), op.i32(PANEL), op.mul, op.i32(PANEL), op.add, L.get('n'), op.leS, op.if); // a full panel
  e(L.get('to'), L.get('src'), L.get('p'), op.i32(PANEL * 4), op.mul, op.add, op.v128Load(0), op.v128Store(0));
  e(L.get('to'), L.get('src'), L.get('p'), op.i32(PANEL * 4), op.mul, op.add, op.v128Load(16), op.v128Store(16));
  e(op.else); // the last, partial panel: zeros past n
  e(op.i32(0), L.set('j'));
  e(op.block, op.loop, L.get('j'), op.i32(PANEL), op.geS, op.brIf(1));
  e(L.get('p'), op.i32(PANEL), op.mul, L.get('j'), op.add, L.set('col'));
  const toJ = [...L.get('to'), ...L.get('j'), ...op.i32(4), ...op.mul, ...op.add];
  e(L.get('col'), L.get('n'), op.ltS, op.if);
  e(toJ, L.get('src'), L.get('col'), op.i32(4), op.mul, op.add, op.f32Load(0), op.f32Store(0));
  e(op.else, toJ, op.f32Zero, op.f32Store(0), op.end);
  e(L.get('j'), op.i32(1), op.add, L.set('j'), op.br(0), op.end, op.end);
  e(op.end);
  e(L.get('p'), op.i32(1), op.add, L.set('p'), op.br(0), op.end, op.end);
  e(L.get('kk'), op.i32(1), op.add, L.set('kk'), op.br(0), op.end, op.end);
  e(L.get('kb'), op.i32(KC), op.add, L.set('kb'), op.br(0), op.end, op.end);
  return { name: 'pack', params: new Array<ValType>(5).fill(ValType.i32), locals: L.list(), code };
}

/**
 * packT(src, ld, k, n, dst): packs B [k, n] given transposed, B[kk][j] = src[j·ld + kk] (ld in bytes):
 * the keys of attention, stored [keys, head dim], as the B of q·kᵀ. Element by element (a gather).
 */
function packTransposedFunction(): WasmFunction {
  const L = new Locals(['src', 'ld', 'k', 'n', 'dst']);
  for (const n of ['kb', 'kcb', 'p', 'panels', 'kk', 'j', 'col']) {
    L.add(n, ValType.i32);
  }
  const { code, e } = emitter();
  e(packPrologue(L));
  e(op.i32(0), L.set('p'));
  e(op.block, op.loop, L.get('p'), L.get('panels'), op.geS, op.brIf(1));
  e(op.i32(0), L.set('kk'));
  e(op.block, op.loop, L.get('kk'), L.get('kcb'), op.geS, op.brIf(1));
  e(op.i32(0), L.set('j'));
  e(op.block, op.loop, L.get('j'), op.i32(PANEL), op.geS, op.brIf(1));
  e(L.get('p'), op.i32(PANEL), op.mul, L.get('j'), op.add, L.set('col'));
  const dstJ = [...L.get('dst'), ...L.get('j'), ...op.i32(4), ...op.mul, ...op.add];
  e(L.get('col'), L.get('n'), op.ltS, op.if);
  // src + col·ld + (kb + kk)·4
  e(dstJ, L.get('src'), L.get('col'), L.get('ld'), op.mul, op.add, L.get('kb'), L.get('kk'), op.add, op.i32(4), op.mul, op.add, op.f32Load(0), op.f32Store(0));
  e(op.else, dstJ, op.f32Zero, op.f32Store(0), op.end);
  e(L.get('j'), op.i32(1), op.add, L.set('j'), op.br(0), op.end, op.end);
  e(L.get('dst'), op.i32(PANEL * 4), op.add, L.set('dst'));
  e(L.get('kk'), op.i32(1), op.add, L.set('kk'), op.br(0), op.end, op.end);
  e(L.get('p'), op.i32(1), op.add, L.set('p'), op.br(0), op.end, op.end);
  e(L.get('kb'), op.i32(KC), op.add, L.set('kb'), op.br(0), op.end, op.end);
  return { name: 'packT', params: new Array<ValType>(5).fill(ValType.i32), locals: L.list(), code };
}

/** The module's bytes: tile_1 … tile_TILE_ROWS (internal), gemm, pack, packT, softmax (softmaxKernel.ts), swiglu (swigluKernel.ts), transpose (transposeKernel.ts), rope (ropeKernel.ts), bf16t (bf16Kernel.ts), rowMaxSumExp (logSumExpKernel.ts). */
export function gemmModuleBytes(opts: { fma: boolean; sharedMemory: boolean }): Uint8Array<ArrayBuffer> {
  const tiles = Array.from({ length: TILE_ROWS }, (_, i) => tileFunction(i + 1, opts.fma));
  return wasmModule([...tiles, gemmFunction((R) => R - 1), packFunction(), packTransposedFunction(), softmaxFunction(opts.fma), swigluFunction(opts.fma), transposeFunction(), ropeFunction(), bf16TransposeFunction(), rowMaxSumExpFunction(opts.fma)], { shared: opts.sharedMemory });
}

/** Floats a packed B of k × n takes. */
export function packedFloats(k: number, n: number): number {
  return k * Math.ceil(n / PANEL) * PANEL;
}
