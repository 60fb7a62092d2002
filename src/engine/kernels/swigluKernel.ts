/**
 * @file SwiGLU on a fused gate|up projection as one generated WebAssembly SIMD pass:
 * swiglu(src, rows, width, dst): src [rows, 2·width] (gate columns first, then up) → dst [rows, width],
 * dst = (g · sigmoid(g)) · u with sigmoid(g) = 1 / (1 + exp(−g)), in transformers' order of ops.
 * tfjs would split the projection (two copies), then run sigmoid, and two multiplies: four passes over
 * the experts' widest activations. width must be a multiple of 4.
 */
import { emitter, Locals, op, ValType, type WasmFunction } from './wasmBinary';
import { emitExp, EXP_LOCALS } from './simdExp';

export function swigluFunction(relaxed: boolean): WasmFunction {
  const L = new Locals(['src', 'rows', 'width', 'dst']);
  for (const name of ['i', 'j', 'row', 'out']) {
    L.add(name, ValType.i32);
  }
  for (const name of ['g', 'x', ...EXP_LOCALS]) {
    L.add(name, ValType.v128);
  }
  const { code, e } = emitter();
  const one = op.v128Const([1, 1, 1, 1]);
  const zero = op.v128Const([0, 0, 0, 0]);
  e(op.i32(0), L.set('i'));
  e(op.block, op.loop, L.get('i'), L.get('rows'), op.geS, op.brIf(1));
  e(L.get('src'), L.get('i'), L.get('width'), op.mul, op.i32(8), op.mul, op.add, L.set('row')); // src + i·2w·4
  e(L.get('dst'), L.get('i'), L.get('width'), op.mul, op.i32(4), op.mul, op.add, L.set('out'));
  e(op.i32(0), L.set('j'));
  e(op.block, op.loop, L.get('j'), L.get('width'), op.geS, op.brIf(1));
  e(L.get('row'), L.get('j'), op.i32(4), op.mul, op.add, op.v128Load(0), L.set('g'));
  e(zero, L.get('g'), op.f32x4Sub, L.set('x')); // −g
  e(L.get('out'), L.get('j'), op.i32(4), op.mul, op.add); // store address
  e(L.get('g'), one, one, emitExp(L, 'x', relaxed), op.f32x4Add, op.f32x4Div, op.f32x4Mul); // g · (1 / (1 + exp(−g)))
  e(L.get('row'), L.get('j'), L.get('width'), op.add, op.i32(4), op.mul, op.add, op.v128Load(0), op.f32x4Mul); // · u
  e(op.v128Store(0));
  e(L.get('j'), op.i32(4), op.add, L.set('j'), op.br(0), op.end, op.end);
  e(L.get('i'), op.i32(1), op.add, L.set('i'), op.br(0), op.end, op.end);
  return { name: 'swiglu', params: [ValType.i32, ValType.i32, ValType.i32, ValType.i32], locals: L.list(), code };
}
