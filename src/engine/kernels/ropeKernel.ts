/**
 * @file Rotary position embeddings in one generated WebAssembly SIMD pass:
 * rope(x, rows, heads, dim, cos, sin, out): x, out [rows, heads, dim]; cos, sin [rows, dim].
 * out = x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁], as transformers' apply_rotary_pos_emb:
 * each product and the sum rounded once, so the result equals tfjs' split / neg / concat / mul / add
 * bit for bit (six passes over q and k there, one here). dim/2 must be a multiple of 4.
 */
import { emitter, Locals, op, ValType, type WasmFunction } from './wasmBinary';

export function ropeFunction(): WasmFunction {
  const L = new Locals(['x', 'rows', 'heads', 'dim', 'cos', 'sin', 'out']);
  for (const name of ['t', 'h', 'i', 'half', 'row', 'cs', 'sn', 'dst']) {
    L.add(name, ValType.i32);
  }
  for (const name of ['x1', 'x2']) {
    L.add(name, ValType.v128);
  }
  const { code, e } = emitter();
  const loop = (v: string, to: number[], body: () => void, step = 1): void => {
    e(op.i32(0), L.set(v));
    e(op.block, op.loop, L.get(v), to, op.geS, op.brIf(1));
    body();
    e(L.get(v), op.i32(step), op.add, L.set(v), op.br(0), op.end, op.end);
  };
  const at = (base: string, plusHalf: boolean): number[] => [...L.get(base), ...L.get('i'), ...(plusHalf ? [...L.get('half'), ...op.add] : []), ...op.i32(4), ...op.mul, ...op.add];
  e(L.get('dim'), op.i32(1), [0x75 /* i32.shr_s */], L.set('half'));
  loop('t', L.get('rows'), () => {
    e(L.get('cos'), L.get('t'), L.get('dim'), op.mul, op.i32(4), op.mul, op.add, L.set('cs'));
    e(L.get('sin'), L.get('t'), L.get('dim'), op.mul, op.i32(4), op.mul, op.add, L.set('sn'));
    loop('h', L.get('heads'), () => {
      // row offset (t·heads + h)·dim·4
      e(L.get('t'), L.get('heads'), op.mul, L.get('h'), op.add, L.get('dim'), op.mul, op.i32(4), op.mul, L.set('row'));
      e(L.get('out'), L.get('row'), op.add, L.set('dst'));
      e(L.get('x'), L.get('row'), op.add, L.set('row'));
      loop(
        'i',
        L.get('half'),
        () => {
          e(at('row', false), op.v128Load(0), L.set('x1'), at('row', true), op.v128Load(0), L.set('x2'));
          // first half: x₁·cos₁ + (−x₂)·sin₁
          e(at('dst', false), L.get('x1'), at('cs', false), op.v128Load(0), op.f32x4Mul);
          e(L.get('x2'), op.f32x4Neg, at('sn', false), op.v128Load(0), op.f32x4Mul, op.f32x4Add, op.v128Store(0));
          // second half: x₂·cos₂ + x₁·sin₂
          e(at('dst', true), L.get('x2'), at('cs', true), op.v128Load(0), op.f32x4Mul);
          e(L.get('x1'), at('sn', true), op.v128Load(0), op.f32x4Mul, op.f32x4Add, op.v128Store(0));
        },
        4,
      );
    });
  });
  return { name: 'rope', params: new Array<ValType>(7).fill(ValType.i32), locals: L.list(), code };
}
