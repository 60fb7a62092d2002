/**
 * The engine's own wasm kernels (src/engine/kernels/): the generated GEMM, its packing and the
 * attention softmax against float64 references, on ragged shapes (every remainder of the 6-row tile,
 * of the 4-step unroll, of the 8-column panel, of the 256-row k-block), with and without relaxed-SIMD
 * FMA; the properties incremental re-analysis and the thread split rely on (a row's result does not
 * depend on the rows or columns computed with it); and the kernels in place in tfjs' wasm backend.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '../../../src/engine/backend';
import { gemmModuleBytes, packedFloats, PANEL } from '../../../src/engine/kernels/gemmModule';
import { kernelsUseFma, type GemmExports } from '../../../src/engine/kernels/kernelModule';
import { BF16_TRANSPOSED_KERNEL, MAX_SUM_EXP_KERNEL, NonFiniteBf16, wasmKernels } from '../../../src/engine/kernels/wasmKernels';
import { causalAttention } from '../../../src/engine/attention';
import { applyRope, attention as wholeMatrixAttention, swiglu } from '../../../src/engine/ops';

function instance(fma: boolean): { ex: GemmExports; f: () => Float32Array } {
  const memory = new WebAssembly.Memory({ initial: 256 });
  const ex = new WebAssembly.Instance(new WebAssembly.Module(gemmModuleBytes({ fma, sharedMemory: false })), { env: { memory } }).exports as unknown as GemmExports;
  return { ex, f: () => new Float32Array(memory.buffer) };
}

/** A deterministic pseudo-random fill in [−1, 1). */
function fill(f: Float32Array, at: number, n: number, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[at + i] = s / 2 ** 31 - 1;
  }
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 3, 5],
  [13, 300, 17],
  [6, 256, 8],
  [121, 513, 24],
  [250, 64, 1],
  [5, 1000, 33],
  [37, 257, 16],
];

describe('GEMM kernel', () => {
  for (const fma of [false, true]) {
    test(`C = A·B within float32 rounding on ragged shapes (${fma ? 'relaxed FMA' : 'multiply + add'})`, (t) => {
      if (fma && !kernelsUseFma()) {
        t.skip('this runtime has no relaxed SIMD');
        return;
      }
      const { ex, f } = instance(fma);
      for (const [M, K, N] of SHAPES) {
        const n8 = Math.ceil(N / PANEL) * PANEL;
        const A = 64;
        const B = A + M * K * 4 + 64;
        const Bp = B + K * N * 4 + 64;
        const C = Bp + packedFloats(K, N) * 4 + 64;
        fill(f(), A / 4, M * K, 1 + M);
        fill(f(), B / 4, K * N, 2 + N);
        f().fill(NaN, C / 4, C / 4 + M * n8);
        ex.pack(B, N * 4, K, N, Bp);
        ex.gemm(A, K * 4, Bp, C, n8 * 4, M, K, n8, 0, n8 / PANEL);
        const v = f();
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < n8; j++) {
            if (j < N) {
              let want = 0;
              let scale = 0;
              for (let k = 0; k < K; k++) {
                want += v[A / 4 + i * K + k] * v[B / 4 + k * N + j];
                scale += Math.abs(v[A / 4 + i * K + k] * v[B / 4 + k * N + j]);
              }
              assert.ok(Math.abs(v[C / 4 + i * n8 + j] - want) <= 1e-6 * (scale + 1), `${M}×${K}×${N} at (${i}, ${j}): ${v[C / 4 + i * n8 + j]} vs ${want}`);
            } else {
              assert.equal(v[C / 4 + i * n8 + j], 0, 'padding columns of a partial panel are exactly 0');
            }
          }
        }
      }
    });
  }

  test("a row's result does not depend on the rows or panels computed with it (thread split, incremental tails)", () => {
    const { ex, f } = instance(kernelsUseFma());
    const [M, K, N] = [29, 600, 40];
    const A = 64;
    const B = A + M * K * 4;
    const Bp = B + K * N * 4;
    const C1 = Bp + packedFloats(K, N) * 4;
    const C2 = C1 + M * N * 4;
    const C3 = C2 + M * N * 4;
    fill(f(), A / 4, M * K, 3);
    fill(f(), B / 4, K * N, 4);
    ex.pack(B, N * 4, K, N, Bp);
    ex.gemm(A, K * 4, Bp, C1, N * 4, M, K, N, 0, N / PANEL);
    // columns in two ranges of panels, rows in two ranges: the halves two threads would take
    ex.gemm(A, K * 4, Bp, C2, N * 4, M, K, N, 0, 2);
    ex.gemm(A, K * 4, Bp, C2, N * 4, M, K, N, 2, N / PANEL);
    ex.gemm(A, K * 4, Bp, C3, N * 4, 11, K, N, 0, N / PANEL);
    ex.gemm(A + 11 * K * 4, K * 4, Bp, C3 + 11 * N * 4, N * 4, M - 11, K, N, 0, N / PANEL);
    const v = f();
    assert.deepEqual(v.slice(C2 / 4, C2 / 4 + M * N), v.slice(C1 / 4, C1 / 4 + M * N));
    assert.deepEqual(v.slice(C3 / 4, C3 / 4 + M * N), v.slice(C1 / 4, C1 / 4 + M * N));
  });

  test('packT packs B given transposed exactly as pack packs B', () => {
    const { ex, f } = instance(false);
    const [K, N] = [300, 21];
    const B = 64;
    const Bt = B + K * N * 4;
    const P1 = Bt + K * N * 4;
    const P2 = P1 + packedFloats(K, N) * 4;
    fill(f(), B / 4, K * N, 5);
    const v = f();
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < N; j++) {
        v[Bt / 4 + j * K + k] = v[B / 4 + k * N + j];
      }
    }
    ex.pack(B, N * 4, K, N, P1);
    ex.packT(Bt, K * 4, K, N, P2);
    const n = packedFloats(K, N);
    assert.deepEqual(f().slice(P2 / 4, P2 / 4 + n), f().slice(P1 / 4, P1 / 4 + n));
  });
});

describe('attention softmax kernel', () => {
  test('scaled, masked by position (causal and sliding window), within 1e-6 of float64; masked columns exactly 0', () => {
    const { ex, f } = instance(false);
    for (const [rows, n, pos0, from, window] of [
      [5, 13, 100, 95, 0],
      [8, 40, 256, 0, 0],
      [4, 30, 300, 280, 10],
      [3, 8, 7, 0, 3],
      [6, 1000, 1000, 0, 0],
    ]) {
      const ld = Math.ceil(n / PANEL) * PANEL;
      const base = 64;
      const src = Array.from({ length: rows * ld }, (_, i) => 30 * Math.sin(i * 1.7));
      f().set(src, base / 4);
      const scale = 0.125;
      ex.softmax(base, rows, ld, n, pos0, from, window, scale);
      const v = f();
      for (let i = 0; i < rows; i++) {
        const pos = pos0 + i;
        const lo = window ? Math.max(0, pos - window + 1 - from) : 0;
        const hi = Math.min(n - 1, pos - from);
        const x = (j: number): number => Math.fround(src[i * ld + j] * scale);
        let max = -Infinity;
        for (let j = lo; j <= hi; j++) {
          max = Math.max(max, x(j));
        }
        let sum = 0;
        for (let j = lo; j <= hi; j++) {
          sum += Math.exp(x(j) - max);
        }
        for (let j = 0; j < ld; j++) {
          const got = v[base / 4 + i * ld + j];
          if (j < lo || j > hi) {
            assert.equal(got, 0, `row ${i} column ${j} is masked`);
          } else {
            const want = Math.exp(x(j) - max) / sum;
            assert.ok(Math.abs(got - want) <= 1e-6 * want + 1e-12, `row ${i} column ${j}: ${got} vs ${want}`);
          }
        }
      }
    }
  });
});

describe('in the wasm backend', () => {
  before(async () => {
    await initBackend('wasm');
  });

  test('the kernels are in place, and tf.matMul on them matches the cpu backend (ragged n, k = 0, m = 0)', () => {
    assert.ok(wasmKernels(), 'wasmKernels() after the wasm backend started');
    for (const [m, k, n] of [[33, 70, 13], [4, 0, 5], [0, 3, 9], [64, 256, 256]]) {
      const a = new Float32Array(m * k);
      const b = new Float32Array(k * n);
      fill(a, 0, m * k, 7);
      fill(b, 0, k * n, 8);
      const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).dataSync());
      assert.equal(got.length, m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let want = 0;
          for (let x = 0; x < k; x++) {
            want += a[i * k + x] * b[x * n + j];
          }
          assert.ok(Math.abs(got[i * n + j] - want) <= 1e-5 * (1 + Math.abs(want)), `${m}×${k}×${n} at (${i}, ${j})`);
        }
      }
    }
  });

  test('row gather and scatter-add (the routed experts) give exactly the rows and the in-order sums', () => {
    const [T, D] = [9, 5];
    const x = Array.from({ length: T * D }, (_, i) => Math.fround(Math.sin(i) * 3));
    const idx = [4, 0, 4, 8, 2];
    const gathered = tf.tidy(() => tf.gather(tf.tensor2d(x, [T, D]), tf.tensor1d(idx, 'int32')).arraySync());
    assert.deepEqual(gathered, idx.map((r) => x.slice(r * D, (r + 1) * D)));
    const upd = Array.from({ length: idx.length * D }, (_, i) => Math.fround(Math.cos(i)));
    const scattered = tf.tidy(() => tf.scatterND(tf.tensor2d(idx, [idx.length, 1], 'int32'), tf.tensor2d(upd, [idx.length, D]), [T, D]).arraySync() as number[][]);
    const want = Array.from({ length: T }, () => new Array<number>(D).fill(0));
    idx.forEach((r, i) => want[r].forEach((_, c) => (want[r][c] = Math.fround(want[r][c] + upd[i * D + c]))));
    assert.deepEqual(scattered, want);
    assert.throws(() => tf.tidy(() => tf.gather(tf.tensor2d(x, [T, D]), tf.tensor1d([T], 'int32'))), /not in \[0, 8\]/);
  });

  test('fused SwiGLU equals silu(gate) ⊙ up from tfjs ops, also where exp over- or underflows', () => {
    const [n, w] = [7, 12];
    const x = Array.from({ length: n * 2 * w }, (_, i) => (i % 11 === 0 ? (i % 2 ? 100 : -100) : 6 * Math.sin(i * 0.7)));
    const fused = tf.tidy(() => swiglu(tf.tensor2d(x, [n, 2 * w])).arraySync());
    const want = tf.tidy(() => {
      const [g, u] = tf.split(tf.tensor2d(x, [n, 2 * w]), 2, 1);
      return tf.mul(tf.mul(g, tf.sigmoid(g)), u).arraySync() as number[][];
    });
    fused.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= 1e-6 * (1 + Math.abs(want[i][j])), `(${i}, ${j}): ${v} vs ${want[i][j]}`)));
  });

  test('2-D transpose (every weight as it loads) is exact on ragged shapes; other permutations still work', () => {
    for (const [r, c] of [[1, 1], [17, 33], [64, 5], [100, 200]]) {
      const x = Array.from({ length: r * c }, (_, i) => i * 0.5 - 3);
      const got = tf.tidy(() => tf.transpose(tf.tensor2d(x, [r, c])).arraySync());
      assert.deepEqual(got, Array.from({ length: c }, (_, j) => Array.from({ length: r }, (_, i) => x[i * c + j])));
    }
    assert.deepEqual(tf.tidy(() => tf.transpose(tf.tensor3d([1, 2, 3, 4, 5, 6], [1, 2, 3]), [2, 0, 1]).arraySync()), [[[1, 4]], [[2, 5]], [[3, 6]]]);
  });

  test('bf16 weights widen and transpose in one pass (gate|up side by side), exactly; NaN or ±Inf anywhere is refused with the output freed', () => {
    const bf16 = (r: number, c: number, seed: number): Uint8Array => {
      const h = new Uint16Array(r * c);
      let s = seed;
      for (let i = 0; i < h.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        h[i] = (s >>> 16) & 0xbfff; // any sign and mantissa; exponents below all-ones
      }
      return new Uint8Array(h.buffer);
    };
    const widened = (b: Uint8Array, i: number): number => new Float32Array(new Uint32Array([new Uint16Array(b.buffer, b.byteOffset, b.length / 2)[i] << 16]).buffer)[0];
    const run = (parts: Uint8Array[], rows: number, cols: number): Float32Array =>
      tf.tidy(() => (tf.engine().runKernel(BF16_TRANSPOSED_KERNEL, {}, { stored: parts, rows, cols } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array);
    for (const [rows, cols] of [[1, 1], [3, 5], [4, 4], [33, 70], [64, 64], [37, 129]]) {
      for (const n of [1, 2]) {
        const parts = Array.from({ length: n }, (_, p) => bf16(rows, cols, rows * 100 + cols + p));
        const got = run(parts, rows, cols);
        assert.equal(got.length, rows * cols * n);
        for (let c = 0; c < cols; c++) {
          for (let p = 0; p < n; p++) {
            for (let r = 0; r < rows; r++) {
              assert.ok(Object.is(got[c * rows * n + p * rows + r], widened(parts[p], r * cols + c)), `${rows}×${cols} part ${p} (${r}, ${c})`);
            }
          }
        }
      }
    }
    const before = tf.memory().numTensors;
    for (const [rows, cols, at] of [[8, 8, 9], [33, 70, 32 * 70 + 5], [33, 70, 69], [5, 3, 14]]) {
      for (const bad of [0x7f80, 0xff80, 0x7fc1]) {
        const b = bf16(rows, cols, 3);
        new Uint16Array(b.buffer)[at] = bad;
        assert.throws(() => run([bf16(rows, cols, 4), b], rows, cols), NonFiniteBf16, `${rows}×${cols} value ${at} = 0x${bad.toString(16)}`);
      }
    }
    assert.equal(tf.memory().numTensors, before);
  });

  test("the LM head's per-row max and Σ exp(x − max) are within 2e-6 of float64 (large, equal and negative logits)", () => {
    for (const [T, n] of [[1, 4], [3, 8], [5, 4096]]) {
      const x = new Float32Array(T * n);
      fill(x, 0, T * n, T + n);
      for (let i = 0; i < x.length; i++) {
        x[i] *= [1, 80, 0, -30][Math.floor(i / n) % 4]; // ±80, all zeros (Σ = n), all negative
      }
      const got = tf.tidy(() => (tf.engine().runKernel(MAX_SUM_EXP_KERNEL, { x: tf.tensor2d(x, [T, n]) }) as tf.Tensor).dataSync());
      for (let t = 0; t < T; t++) {
        const row = Array.from(x.subarray(t * n, (t + 1) * n));
        const m = Math.max(...row);
        const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
        assert.equal(got[2 * t], m);
        assert.ok(Math.abs(got[2 * t + 1] - s) <= 2e-6 * s, `row ${t} of ${T}×${n}: Σ ${got[2 * t + 1]} vs ${s}`);
      }
    }
  });

  test("fused RoPE equals transformers' x·cos + rotate_half(x)·sin from tfjs ops bit for bit", () => {
    const [T, H, dim] = [5, 3, 16];
    const x = Array.from({ length: T * H * dim }, (_, i) => (i % 13 === 0 ? 0 : Math.sin(i * 0.37) * 4));
    const cos = Array.from({ length: T * dim }, (_, i) => Math.cos(i * 0.1));
    const sin = Array.from({ length: T * dim }, (_, i) => Math.sin(i * 0.1));
    const [fused, want] = tf.tidy(() => {
      const xt = tf.tensor3d(x, [T, H, dim]);
      const rope = { cos: tf.tensor2d(cos, [T, dim]), sin: tf.tensor2d(sin, [T, dim]) };
      const [x1, x2] = tf.split(xt, 2, 2);
      const rotated = tf.concat([tf.neg(x2), x1], 2);
      const ref = tf.add(tf.mul(xt, tf.expandDims(rope.cos, 1)), tf.mul(rotated, tf.expandDims(rope.sin, 1)));
      return [applyRope(xt, rope).dataSync(), ref.dataSync()];
    });
    assert.deepEqual(fused, want);
  });

  test('a weight is packed once and its packed copy is freed with it', () => {
    const kernels = wasmKernels();
    assert.ok(kernels);
    const w = tf.randomNormal([128, 64]) as tf.Tensor2D;
    const before = kernels.packedCount;
    const x = tf.randomNormal([10, 128]) as tf.Tensor2D;
    tf.dispose([tf.matMul(x, w), tf.matMul(x, w)]);
    assert.equal(kernels.packedCount, before + 1);
    w.dispose();
    assert.equal(kernels.packedCount, before);
    x.dispose();
  });

  test('fused causal attention equals the whole-matrix attention (GQA, sliding window) and a cached tail equals its full rows bit for bit', () => {
    const [T, H, KV, hd] = [300, 4, 2, 16];
    for (const window of [null, 37]) {
      tf.tidy(() => {
        const q = tf.randomNormal([T, H, hd], 0, 1, 'float32', 11) as tf.Tensor3D;
        const k = tf.randomNormal([T, KV, hd], 0, 1, 'float32', 12) as tf.Tensor3D;
        const v = tf.randomNormal([T, KV, hd], 0, 1, 'float32', 13) as tf.Tensor3D;
        const opts = { scale: 0.25, slidingWindow: window };
        const fused = causalAttention(q, k, v, opts).arraySync();
        const whole = wholeMatrixAttention(q, k, v, opts).arraySync();
        let worst = 0;
        fused.forEach((row, t) => row.forEach((x, c) => (worst = Math.max(worst, Math.abs(x - whole[t][c])))));
        assert.ok(worst < 1e-5, `window ${window}: max |fused − whole| ${worst}`);
        const P = 260;
        const slot = { past: { k: tf.slice(k, [0, 0, 0], [P, -1, -1]) as tf.Tensor3D, v: tf.slice(v, [0, 0, 0], [P, -1, -1]) as tf.Tensor3D }, next: null };
        const tail = causalAttention(tf.slice(q, [P, 0, 0], [T - P, -1, -1]) as tf.Tensor3D, tf.slice(k, [P, 0, 0], [T - P, -1, -1]) as tf.Tensor3D, tf.slice(v, [P, 0, 0], [T - P, -1, -1]) as tf.Tensor3D, opts, slot).arraySync();
        assert.deepEqual(tail, fused.slice(P));
      });
    }
  });
});
