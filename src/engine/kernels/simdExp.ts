/**
 * @file exp for four float32 lanes, as generated WebAssembly (Cephes' expf: range reduction by ln 2,
 * a degree-6 minimax polynomial, 2^n from its exponent bits; about 1 ulp). Math.exp costs about
 * 16 ns a call under V8; this is a few instructions a lane. Inputs are clamped to float32's normal
 * range of results: below −87.34 the result is ~1e−38 (callers that need an exact 0 mask it), above
 * 88.38 it is ~2.4e38.
 */
import { emitter, type Locals, op } from './wasmBinary';

const EXP_MIN = -87.3365448;
const EXP_MAX = 88.3762626;

/** The locals `emitExp` needs (v128): declare them once per function. */
export const EXP_LOCALS = ['expR', 'expFx', 'expY'] as const;

const splat = (c: number): number[] => op.v128Const([c, c, c, c]);

/**
 * Code that leaves exp(x) on the stack, x the v128 local named `x`. `relaxed`: 2^n's exponent by
 * relaxed SIMD's truncation (one instruction; the saturating one is five on x64, and n is in range here).
 */
export function emitExp(L: Locals, x: string, relaxed = false): number[] {
  const { code, e } = emitter();
  // pmax/pmin: the same clamp as max/min for every input but NaN (which stays NaN either way), in one instruction each.
  e(L.get(x), splat(EXP_MIN), op.f32x4Pmax, splat(EXP_MAX), op.f32x4Pmin, L.set('expR'));
  e(L.get('expR'), splat(Math.LOG2E), op.f32x4Mul, op.f32x4Nearest, L.set('expFx'));
  e(L.get('expR'), L.get('expFx'), splat(0.693359375), op.f32x4Mul, op.f32x4Sub, L.set('expR'));
  e(L.get('expR'), L.get('expFx'), splat(-2.12194440e-4), op.f32x4Mul, op.f32x4Sub, L.set('expR'));
  e(splat(1.98756915e-4));
  for (const c of [1.39819995e-3, 8.33345191e-3, 4.16657959e-2, 1.66666655e-1, 5.00000012e-1]) {
    e(L.get('expR'), op.f32x4Mul, splat(c), op.f32x4Add);
  }
  e(L.get('expR'), L.get('expR'), op.f32x4Mul, op.f32x4Mul, L.get('expR'), op.f32x4Add, splat(1), op.f32x4Add, L.set('expY'));
  // 2^fx from its bits: (fx + 127) << 23
  e(L.get('expY'), L.get('expFx'), relaxed ? op.i32x4RelaxedTruncF32x4S : op.i32x4TruncSatF32x4S, op.i32x4Const([127, 127, 127, 127]), op.i32x4Add, op.i32(23), op.i32x4Shl, op.f32x4Mul);
  return code;
}
