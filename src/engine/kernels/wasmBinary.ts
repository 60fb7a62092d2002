/**
 * @file Just enough of the WebAssembly binary format to write the engine's own kernels: one module
 * importing `env.memory` (tfjs' heap, shared when threaded), functions of i32 parameters, and the
 * integer, control and 128-bit SIMD instructions they use. Kernels are generated, not hand-written,
 * because their unrolled register tiles are easier to say as loops in TypeScript than as text.
 */

export const ValType = Object.freeze({ i32: 0x7f, f32: 0x7d, v128: 0x7b });
export type ValType = (typeof ValType)[keyof typeof ValType];

export function uleb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) {
      byte |= 0x80;
    }
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vector([...Buffer.from(s, 'utf8')].map((b) => [b]));

export interface WasmFunction {
  name: string | null; // exported under this name; null keeps it internal
  params: ValType[];
  results?: ValType[];
  locals: ValType[];
  code: number[];
}

/** A module importing env.memory (shared: limits 1 … 65536 pages, as a threaded build's heap). */
export function wasmModule(funcs: WasmFunction[], memory: { shared: boolean }): Uint8Array<ArrayBuffer> {
  const types = section(1, vector(funcs.map((f) => [0x60, ...vector(f.params.map((p) => [p])), ...vector((f.results ?? []).map((r) => [r]))])));
  const limits = memory.shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, vector([[...name('env'), ...name('memory'), 0x02, ...limits]]));
  const functions = section(3, vector(funcs.map((_, i) => uleb(i))));
  const exported = funcs.map((f, i) => ({ f, i })).filter(({ f }) => f.name !== null);
  const exports = section(7, vector(exported.map(({ f, i }) => [...name(f.name as string), 0x00, ...uleb(i)])));
  const bodies = funcs.map((f) => {
    const runs: [number, ValType][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) {
        last[0]++;
      } else {
        runs.push([1, t]);
      }
    }
    const body = [...vector(runs.map(([n, t]) => [...uleb(n), t])), ...f.code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  const code = section(10, vector(bodies));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...functions, ...exports, ...code]);
}

const simd = (op: number, ...rest: number[]): number[] => [0xfd, ...uleb(op), ...rest];

/** Instructions, each as its bytes. Memory offsets are byte immediates; alignment hints are natural. */
export const op = Object.freeze({
  get: (l: number) => [0x20, ...uleb(l)],
  set: (l: number) => [0x21, ...uleb(l)],
  tee: (l: number) => [0x22, ...uleb(l)],
  i32: (c: number) => [0x41, ...sleb(c)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  geS: [0x4e],
  ltS: [0x48],
  gtS: [0x4a],
  leS: [0x4c],
  eqz: [0x45],
  select: [0x1b],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  call: (f: number) => [0x10, ...uleb(f)],
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  f32Zero: [0x43, 0, 0, 0, 0],
  v128Load: (offset: number) => simd(0x00, 4, ...uleb(offset)),
  v128Store: (offset: number) => simd(0x0b, 4, ...uleb(offset)),
  v128Zero: simd(0x0c, ...new Array<number>(16).fill(0)),
  load32Splat: (offset: number) => simd(0x09, 2, ...uleb(offset)),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Max: simd(0xe9),
  f32x4Min: simd(0xe8),
  /** b < a ? b : a: one minps on x64, where f32x4.min's NaN and ±0 rules cost several instructions. */
  f32x4Pmin: simd(0xea),
  /** a < b ? b : a (one maxps). */
  f32x4Pmax: simd(0xeb),
  f32x4Neg: simd(0xe1),
  f32x4Div: simd(0xe7),
  f32x4Nearest: simd(0x6a),
  f32x4Splat: simd(0x13),
  f32x4Eq: simd(0x41),
  f32x4ExtractLane: (lane: number) => simd(0x1f, lane),
  i32x4TruncSatF32x4S: simd(0xf8),
  /** Relaxed SIMD: truncation whose out-of-range results are left to the CPU (one cvttps2dq on x64). */
  i32x4RelaxedTruncF32x4S: simd(0x101),
  i32x4Shl: simd(0xab),
  i32x4Add: simd(0xae),
  v128AndNot: simd(0x4f),
  v128Const: (lanes: readonly number[]) => simd(0x0c, ...new Uint8Array(new Float32Array(lanes).buffer)),
  i32x4Const: (lanes: readonly number[]) => simd(0x0c, ...new Uint8Array(new Int32Array(lanes).buffer)),
  f32Const: (x: number) => [0x43, ...new Uint8Array(new Float32Array([x]).buffer)],
  f32Mul: [0x94],
  f32Add: [0x92],
  f32Max: [0x97],
  f32Div: [0x95],
  f32x4Mul: simd(0xe6),
  /** Four u16 at the address, zero-extended to i32x4 (v128.load16x4_u). */
  load16x4U: (offset: number) => simd(0x04, 1, ...uleb(offset)),
  /** Lanes of two vectors by byte index (0–15 the first, 16–31 the second). */
  i8x16Shuffle: (bytes: readonly number[]) => simd(0x0d, ...bytes),
  v128And: simd(0x4e),
  v128Or: simd(0x50),
  v128AnyTrue: simd(0x53),
  i32x4Eq: simd(0x37),
  i32Load16U: (offset: number) => [0x2f, 1, ...uleb(offset)],
  i32Store: (offset: number) => [0x36, 2, ...uleb(offset)],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32Shl: [0x74],
  i32And: [0x71],
  i32Or: [0x72],
  i32Eq: [0x46],
  /** Relaxed SIMD: a·b + c, fused where the CPU has FMA (the order of operands on the stack: a, b, c). */
  f32x4RelaxedMadd: simd(0x105),
});

/** Locals by name, numbered after the parameters. */
/** Collects a function body: `e(...parts)` appends instructions in order. */
export function emitter(): { code: number[]; e: (...parts: number[][]) => void } {
  const code: number[] = [];
  return {
    code,
    e: (...parts) => {
      for (const p of parts) {
        code.push(...p);
      }
    },
  };
}

export class Locals {
  private readonly types: ValType[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly params: string[]) {}
  add(name: string, type: ValType): void {
    this.index.set(name, this.params.length + this.types.length);
    this.types.push(type);
  }
  idx(name: string): number {
    const p = this.params.indexOf(name);
    if (p >= 0) {
      return p;
    }
    const l = this.index.get(name);
    if (l === undefined) {
      throw new Error(`wasm kernel: no local '${name}'`);
    }
    return l;
  }
  get = (name: string): number[] => op.get(this.idx(name));
  set = (name: string): number[] => op.set(this.idx(name));
  list(): ValType[] {
    return this.types;
  }
}

