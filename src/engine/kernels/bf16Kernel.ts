/**
 * @file A bf16 weight straight into the float32 layout the forward pass multiplies by, as one generated
 * WebAssembly SIMD pass: bf16t(src, rows, cols, dst, ldd, flag) writes dst[c·ldd + r] = float(src[r·cols + c])
 * (a linear weight [out, in] as stored → [in, out], or one half of a fused gate|up when ldd is twice rows)
 * and sets the i32 at `flag` to 1 if any value is NaN or ±Inf (exponent all ones), else leaves it.
 * A bf16 is the top half of a float32, so widening is a shift. It replaces three passes a cold start
 * spent a third of its load in: widen on the host, copy into the heap, transpose there.
 * Blocks of 4 × 4 (four rows' four values widened, then transposed by shuffles), in tiles of 32 × 32
 * so the rows read and the rows written both stay in L1; the edges one value at a time.
 */
import { emitter, Locals, op, ValType, type WasmFunction } from './wasmBinary';

const TILE = 32;
const EXP = 0x7f800000;

/** Byte indices of i8x16.shuffle picking 32-bit lanes (0–3 of the first vector, 4–7 of the second). */
const lanes = (...l: number[]): number[] => l.flatMap((i) => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]);

export function bf16TransposeFunction(): WasmFunction {
  const L = new Locals(['src', 'rows', 'cols', 'dst', 'ldd', 'flag']);
  for (const name of ['r0', 'c0', 'r', 'c', 'r1', 'c1', 'rows4', 'cols4', 'bad', 'v']) {
    L.add(name, ValType.i32);
  }
  for (const name of ['x0', 'x1', 'x2', 'x3', 't0', 't1', 't2', 't3', 'acc']) {
    L.add(name, ValType.v128);
  }
  const { code, e } = emitter();
  const minS = (x: number[], y: number[]): number[] => [...x, ...y, ...x, ...y, ...op.ltS, ...op.select];
  const loop = (v: string, from: number[], to: number[], step: number, body: () => void): void => {
    e(from, L.set(v));
    e(op.block, op.loop, L.get(v), to, op.geS, op.brIf(1));
    body();
    e(L.get(v), op.i32(step), op.add, L.set(v), op.br(0), op.end, op.end);
  };
  const srcAt = (r: number[], c: number[]): number[] => [...L.get('src'), ...r, ...L.get('cols'), ...op.mul, ...c, ...op.add, ...op.i32(2), ...op.mul, ...op.add];
  const dstAt = (c: number[], r: number[]): number[] => [...L.get('dst'), ...c, ...L.get('ldd'), ...op.mul, ...r, ...op.add, ...op.i32(4), ...op.mul, ...op.add];
  const mask = op.i32x4Const([EXP, EXP, EXP, EXP]);

  e(op.v128Zero, L.set('acc'), op.i32(0), L.set('bad'));
  e(L.get('rows'), op.i32(-4), op.i32And, L.set('rows4'), L.get('cols'), op.i32(-4), op.i32And, L.set('cols4'));
  // 4 × 4 blocks, tile by tile
  loop('r0', op.i32(0), L.get('rows4'), TILE, () => {
    e(minS(L.get('rows4'), [...L.get('r0'), ...op.i32(TILE), ...op.add]), L.set('r1'));
    loop('c0', op.i32(0), L.get('cols4'), TILE, () => {
      e(minS(L.get('cols4'), [...L.get('c0'), ...op.i32(TILE), ...op.add]), L.set('c1'));
      loop('c', L.get('c0'), L.get('c1'), 4, () => {
        loop('r', L.get('r0'), L.get('r1'), 4, () => {
          for (let i = 0; i < 4; i++) {
            // row r+i, columns c … c+3, widened: x_i
            e(srcAt([...L.get('r'), ...op.i32(i), ...op.add], L.get('c')), op.load16x4U(0), op.i32(16), op.i32x4Shl, L.set(`x${i}`));
            e(L.get(`x${i}`), mask, op.v128And, mask, op.i32x4Eq, L.get('acc'), op.v128Or, L.set('acc'));
          }
          e(L.get('x0'), L.get('x1'), op.i8x16Shuffle(lanes(0, 4, 1, 5)), L.set('t0'));
          e(L.get('x0'), L.get('x1'), op.i8x16Shuffle(lanes(2, 6, 3, 7)), L.set('t1'));
          e(L.get('x2'), L.get('x3'), op.i8x16Shuffle(lanes(0, 4, 1, 5)), L.set('t2'));
          e(L.get('x2'), L.get('x3'), op.i8x16Shuffle(lanes(2, 6, 3, 7)), L.set('t3'));
          // column c+j of rows r … r+3 → dst row c+j at column r
          const out: [string, string, number[]][] = [
            ['t0', 't2', lanes(0, 1, 4, 5)],
            ['t0', 't2', lanes(2, 3, 6, 7)],
            ['t1', 't3', lanes(0, 1, 4, 5)],
            ['t1', 't3', lanes(2, 3, 6, 7)],
          ];
          out.forEach(([a, b, sh], j) => {
            e(dstAt([...L.get('c'), ...op.i32(j), ...op.add], L.get('r')), L.get(a), L.get(b), op.i8x16Shuffle(sh), op.v128Store(0));
          });
        });
      });
    });
  });
  // The edges: rows rows4 … rows−1 (every column), then columns cols4 … cols−1 of the other rows.
  const one = (): void => {
    e(dstAt(L.get('c'), L.get('r')), srcAt(L.get('r'), L.get('c')), op.i32Load16U(0), op.i32(16), op.i32Shl, L.set('v'), L.get('v'), op.i32Store(0));
    e(L.get('v'), op.i32(EXP), op.i32And, op.i32(EXP), op.i32Eq, L.get('bad'), op.i32Or, L.set('bad'));
  };
  loop('r', L.get('rows4'), L.get('rows'), 1, () => loop('c', op.i32(0), L.get('cols'), 1, one));
  loop('r', op.i32(0), L.get('rows4'), 1, () => loop('c', L.get('cols4'), L.get('cols'), 1, one));
  e(L.get('acc'), op.v128AnyTrue, L.get('bad'), op.i32Or, op.if);
  e(L.get('flag'), op.i32(1), op.i32Store(0));
  e(op.end);
  return { name: 'bf16t', params: new Array<ValType>(6).fill(ValType.i32), locals: L.list(), code };
}
