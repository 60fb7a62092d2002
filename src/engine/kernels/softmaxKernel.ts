/**
 * @file The attention's row softmax as a generated WebAssembly SIMD function, with the causal and
 * sliding-window mask applied by position, four lanes at a time (exp: simdExp.ts).
 *
 * softmax(base, rows, ld, n, pos0, from, window, scale): rows of ld floats at base (bytes); row i is
 * the query at position pos0 + i over keys from … from + n − 1; it sees keys at positions in
 * [pos − window + 1, pos] (window 0: [0, pos]). Each row becomes softmax(row · scale) over what it
 * sees and exactly 0 elsewhere (ld ≥ n, a multiple of 4). As transformers: scale, mask, softmax (the
 * normalisation a multiply by 1 / Σ, within an ulp of the division).
 */
import { emitter, Locals, op, ValType, type WasmFunction } from './wasmBinary';
import { emitExp, EXP_LOCALS } from './simdExp';

export function softmaxFunction(relaxed: boolean): WasmFunction {
  const L = new Locals(['base', 'rows', 'ld', 'n', 'pos0', 'from', 'window', 'scale']);
  for (const name of ['i', 'row', 'pos', 'lo', 'hi', 'j', 'end', 'lo4', 'hi4']) {
    L.add(name, ValType.i32);
  }
  for (const name of ['m', 'sum']) {
    L.add(name, ValType.f32);
  }
  for (const name of ['vscale', 'vmax', 'vm', 'vsum', 'x', 'r', ...EXP_LOCALS]) {
    L.add(name, ValType.v128);
  }
  const { code, e } = emitter();
  const splat = (c: number): number[] => op.v128Const([c, c, c, c]);
  const addr = (j: string): number[] => [...L.get('row'), ...L.get(j), ...op.i32(4), ...op.mul, ...op.add];
  /** for (j = from; j < to; j += step) body */
  const forJ = (fromExpr: number[], toExpr: number[], step: number, body: () => void): void => {
    e(fromExpr, L.set('j'), toExpr, L.set('end'));
    e(op.block, op.loop, L.get('j'), L.get('end'), op.geS, op.brIf(1));
    body();
    e(L.get('j'), op.i32(step), op.add, L.set('j'), op.br(0), op.end, op.end);
  };
  const lanes = (v: string, combine: number[]): void => {
    e(L.get(v), op.f32x4ExtractLane(0), L.get(v), op.f32x4ExtractLane(1), combine, L.get(v), op.f32x4ExtractLane(2), L.get(v), op.f32x4ExtractLane(3), combine, combine);
  };

  e(L.get('scale'), op.f32x4Splat, L.set('vscale'), op.i32(0), L.set('i'));
  e(op.block, op.loop, L.get('i'), L.get('rows'), op.geS, op.brIf(1));
  e(L.get('base'), L.get('i'), L.get('ld'), op.mul, op.i32(4), op.mul, op.add, L.set('row'));
  e(L.get('pos0'), L.get('i'), op.add, L.set('pos'));
  // lo = window ? max(0, pos − window + 1 − from) : 0; hi = min(n − 1, pos − from)
  const loExpr = [...L.get('pos'), ...L.get('window'), ...op.sub, ...op.i32(1), ...op.add, ...L.get('from'), ...op.sub];
  e(loExpr, op.i32(0), loExpr, op.i32(0), op.gtS, op.select, op.i32(0), L.get('window'), op.select, L.set('lo'));
  const hiA = [...L.get('n'), ...op.i32(1), ...op.sub];
  const hiB = [...L.get('pos'), ...L.get('from'), ...op.sub];
  e(hiA, hiB, hiA, hiB, op.ltS, op.select, L.set('hi'));
  // The passes run over the whole vectors [lo4, hi4) that hold what the row sees; their other lanes are
  // −∞ (exactly 0 after exp), and every column outside them is written 0 at once.
  e(L.get('lo'), op.i32(-4), op.i32And, L.set('lo4'), L.get('hi'), op.i32(4), op.add, op.i32(-4), op.i32And, L.set('hi4'));
  const minusInf = (): void => e(addr('j'), op.f32Const(-Infinity), op.f32Store(0));
  forJ(L.get('lo4'), L.get('lo'), 1, minusInf);
  forJ([...L.get('hi'), ...op.i32(1), ...op.add], L.get('hi4'), 1, minusInf);
  const zeros = (): void => e(addr('j'), op.v128Zero, op.v128Store(0));
  forJ(op.i32(0), L.get('lo4'), 4, zeros);
  forJ(L.get('hi4'), L.get('ld'), 4, zeros);
  // pass 1: scale, max
  e(splat(-Infinity), L.set('vmax'));
  forJ(L.get('lo4'), L.get('hi4'), 4, () => {
    e(addr('j'), addr('j'), op.v128Load(0), L.get('vscale'), op.f32x4Mul, L.set('x'), L.get('x'), op.v128Store(0));
    e(L.get('vmax'), L.get('x'), op.f32x4Pmax, L.set('vmax'));
  });
  lanes('vmax', op.f32Max);
  e(L.set('m'), L.get('m'), op.f32x4Splat, L.set('vm'));
  // pass 2: exp(x − max), masked lanes 0, sum
  e(op.v128Zero, L.set('vsum'));
  forJ(L.get('lo4'), L.get('hi4'), 4, () => {
    e(addr('j'), op.v128Load(0), L.get('vm'), op.f32x4Sub, L.set('x'));
    e(addr('j'));
    e(emitExp(L, 'x', relaxed));
    e(L.get('x'), splat(-Infinity), op.f32x4Eq, op.v128AndNot, L.set('r'), L.get('r'), op.v128Store(0));
    e(L.get('vsum'), L.get('r'), op.f32x4Add, L.set('vsum'));
  });
  lanes('vsum', op.f32Add);
  // pass 3: times 1 / sum (a multiply: a vector divide costs several times as much)
  e(L.set('sum'), op.f32Const(1), L.get('sum'), op.f32Div, op.f32x4Splat, L.set('vm'));
  forJ(L.get('lo4'), L.get('hi4'), 4, () => {
    e(addr('j'), addr('j'), op.v128Load(0), L.get('vm'), op.f32x4Mul, op.v128Store(0));
  });
  e(L.get('i'), op.i32(1), op.add, L.set('i'), op.br(0), op.end, op.end);
  const params = [ValType.i32, ValType.i32, ValType.i32, ValType.i32, ValType.i32, ValType.i32, ValType.i32, ValType.f32];
  return { name: 'softmax', params, locals: L.list(), code };
}
