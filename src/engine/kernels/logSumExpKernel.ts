/**
 * @file What the LM head needs of each row of logits for surprisal, as one generated WebAssembly SIMD
 * function: rowMaxSumExp(src, rows, n, dst) writes dst[2i] = max of row i and dst[2i + 1] = Σ exp(x − max)
 * over its n values (n a multiple of 4). tfjs ran four ops over the [T, vocab] slice for this (max,
 * subtract, exp, sum), three of them writing a new slice-sized tensor.
 */
import { emitter, Locals, op, ValType, type WasmFunction } from './wasmBinary';
import { emitExp, EXP_LOCALS } from './simdExp';

export function rowMaxSumExpFunction(relaxed: boolean): WasmFunction {
  const L = new Locals(['src', 'rows', 'n', 'dst']);
  for (const name of ['i', 'j', 'row']) {
    L.add(name, ValType.i32);
  }
  for (const name of ['m', 'sum']) {
    L.add(name, ValType.f32);
  }
  for (const name of ['vmax', 'vm', 'vsum', 'x', ...EXP_LOCALS]) {
    L.add(name, ValType.v128);
  }
  const { code, e } = emitter();
  const at = [...L.get('row'), ...L.get('j'), ...op.i32(4), ...op.mul, ...op.add];
  const forJ = (body: () => void): void => {
    e(op.i32(0), L.set('j'));
    e(op.block, op.loop, L.get('j'), L.get('n'), op.geS, op.brIf(1));
    body();
    e(L.get('j'), op.i32(4), op.add, L.set('j'), op.br(0), op.end, op.end);
  };
  const lanes = (v: string, combine: number[]): void => {
    e(L.get(v), op.f32x4ExtractLane(0), L.get(v), op.f32x4ExtractLane(1), combine, L.get(v), op.f32x4ExtractLane(2), L.get(v), op.f32x4ExtractLane(3), combine, combine);
  };
  e(op.i32(0), L.set('i'));
  e(op.block, op.loop, L.get('i'), L.get('rows'), op.geS, op.brIf(1));
  e(L.get('src'), L.get('i'), L.get('n'), op.mul, op.i32(4), op.mul, op.add, L.set('row'));
  e(op.v128Const([-Infinity, -Infinity, -Infinity, -Infinity]), L.set('vmax'));
  forJ(() => e(L.get('vmax'), at, op.v128Load(0), op.f32x4Pmax, L.set('vmax')));
  lanes('vmax', op.f32Max);
  e(L.set('m'), L.get('m'), op.f32x4Splat, L.set('vm'));
  e(op.v128Zero, L.set('vsum'));
  forJ(() => {
    e(at, op.v128Load(0), L.get('vm'), op.f32x4Sub, L.set('x'));
    e(L.get('vsum'), emitExp(L, 'x', relaxed), op.f32x4Add, L.set('vsum'));
  });
  lanes('vsum', op.f32Add);
  e(L.set('sum'));
  e(L.get('dst'), L.get('i'), op.i32(8), op.mul, op.add, L.get('m'), op.f32Store(0));
  e(L.get('dst'), L.get('i'), op.i32(8), op.mul, op.add, L.get('sum'), op.f32Store(4));
  e(L.get('i'), op.i32(1), op.add, L.set('i'), op.br(0), op.end, op.end);
  return { name: 'rowMaxSumExp', params: [ValType.i32, ValType.i32, ValType.i32, ValType.i32], locals: L.list(), code };
}
