/**
 * @file A 2-D float32 transpose as generated WebAssembly, in 16 × 16 tiles so both sides stay in
 * cache: transpose(src, rows, cols, dst), dst [cols, rows] = srcᵀ. Every weight is transposed once
 * as it loads ([out, in] → [in, out]); tfjs' generic wasm Transpose took about 9 ns an element, a
 * third of a cold start.
 */
import { emitter, Locals, op, ValType, type WasmFunction } from './wasmBinary';

const TILE = 16;

export function transposeFunction(): WasmFunction {
  const L = new Locals(['src', 'rows', 'cols', 'dst']);
  for (const name of ['r0', 'c0', 'r', 'c', 'r1', 'c1']) {
    L.add(name, ValType.i32);
  }
  const { code, e } = emitter();
  const minS = (x: number[], y: number[]): number[] => [...x, ...y, ...x, ...y, ...op.ltS, ...op.select];
  const loop = (v: string, from: number[], to: string, step: number, body: () => void): void => {
    e(from, L.set(v));
    e(op.block, op.loop, L.get(v), L.get(to), op.geS, op.brIf(1));
    body();
    e(L.get(v), op.i32(step), op.add, L.set(v), op.br(0), op.end, op.end);
  };
  loop('r0', op.i32(0), 'rows', TILE, () => {
    e(minS(L.get('rows'), [...L.get('r0'), ...op.i32(TILE), ...op.add]), L.set('r1'));
    loop('c0', op.i32(0), 'cols', TILE, () => {
      e(minS(L.get('cols'), [...L.get('c0'), ...op.i32(TILE), ...op.add]), L.set('c1'));
      loop('c', L.get('c0'), 'c1', 1, () => {
        loop('r', L.get('r0'), 'r1', 1, () => {
          // dst[c·rows + r] = src[r·cols + c]
          e(L.get('dst'), L.get('c'), L.get('rows'), op.mul, L.get('r'), op.add, op.i32(4), op.mul, op.add);
          e(L.get('src'), L.get('r'), L.get('cols'), op.mul, L.get('c'), op.add, op.i32(4), op.mul, op.add, op.f32Load(0));
          e(op.f32Store(0));
        });
      });
    });
  });
  return { name: 'transpose', params: [ValType.i32, ValType.i32, ValType.i32, ValType.i32], locals: L.list(), code };
}
