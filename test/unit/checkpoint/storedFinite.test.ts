/**
 * assertStoredFinite: a tensor held as stored (bf16, f16) is checked for NaN and ±Inf by exponent bits,
 * two values at a time where the bytes are aligned; every position, alignment and kind of bad value is found.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertStoredFinite, type TensorInfo } from '../../../src/engine/checkpoint/checkpoint';
import { NonFiniteWeightsError } from '../../../src/engine/checkpoint/errors';

const info = (dtype: 'BF16' | 'F16', count: number): TensorInfo => ({ name: 'w', dtype, shape: [count], file: 'model.safetensors', start: 0, end: 2 * count });

test('bf16 and f16: NaN, ±Inf at any position and byte alignment are refused; the largest finite values pass', () => {
  const cases = [
    { dtype: 'BF16' as const, bad: [0x7f80, 0xff80, 0x7fc0, 0x7f81], max: [0x7f7f, 0xff7f, 0x0001, 0x8000] },
    { dtype: 'F16' as const, bad: [0x7c00, 0xfc00, 0x7e00, 0x7c01], max: [0x7bff, 0xfbff, 0x0001, 0x8000] },
  ];
  for (const { dtype, bad, max } of cases) {
    for (const count of [1, 2, 7, 64]) {
      for (const shift of [0, 2]) {
        const buf = new Uint8Array(4 + 2 * count);
        const h = new Uint16Array(buf.buffer, shift, count);
        h.forEach((_, i) => (h[i] = max[i % max.length]));
        const stored = new Uint8Array(buf.buffer, shift, 2 * count);
        assertStoredFinite(info(dtype, count), stored);
        for (const at of new Set([0, count - 1, count >> 1])) {
          for (const v of bad) {
            const keep = h[at];
            h[at] = v;
            assert.throws(() => assertStoredFinite(info(dtype, count), stored), NonFiniteWeightsError, `${dtype} ${count} values at byte ${shift}: 0x${v.toString(16)} at ${at}`);
            h[at] = keep;
          }
        }
      }
    }
  }
});
