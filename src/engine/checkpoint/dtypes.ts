/**
 * @file safetensors dtypes: their byte sizes and conversion of raw little-endian bytes to float32.
 */

export type Dtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U8' | 'U16' | 'U32' | 'U64'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U8: 1, U16: 2, U32: 4, U64: 8,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

export const KNOWN_DTYPES = Object.keys(DTYPE_BYTES) as Dtype[];

export function isDtype(s: string): s is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** IEEE half → float32, exact (every half is a float32), subnormals, ±inf and NaN included. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) {
    return sign * frac * 2 ** -24;
  }
  if (exp === 0x1f) {
    return frac ? NaN : sign * Infinity;
  }
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let halfTable: Float32Array | undefined;
/** 65536-entry lookup: converting by table is several times faster than by arithmetic. */
function getHalfTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      halfTable[h] = halfToFloat(h);
    }
  }
  return halfTable;
}

/** OCP FP8 E4M3 (fn variant: no infinities, S.1111.111 is NaN), as torch.float8_e4m3fn. */
export function fp8e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const frac = b & 0x7;
  if (exp === 0xf && frac === 0x7) {
    return NaN;
  }
  if (exp === 0) {
    return sign * frac * 2 ** -9;
  }
  return sign * (1 + frac / 8) * 2 ** (exp - 7);
}

/** OCP FP8 E5M2 (IEEE-like: infinities and NaNs), as torch.float8_e5m2. */
export function fp8e5m2ToFloat(b: number): number {
  return halfToFloat(b << 8);
}

/**
 * Converts `count` elements of `dtype` held little-endian at the start of `buf` into float32.
 * `buf` must be at least `count * 4` bytes long (the caller reads the raw bytes into the front of
 * the output's own buffer) so that 2-byte and 1-byte types can widen in place without a second copy.
 */
export function widenInPlace(dtype: Dtype, buf: ArrayBuffer, count: number): Float32Array {
  return widen(dtype, buf, count, false).data;
}

/** Index of the first NaN or ±Inf in `data`, or -1. */
export function findNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is 0 for finite v and NaN for NaN and ±Inf: one compare per element.
    if (v - v !== 0) {
      return i;
    }
  }
  return -1;
}

/**
 * widenInPlace that, with `checkFinite`, also says whether every value is finite. The half and fp8
 * types test the exponent bits inside the conversion loop they run anyway (a separate pass over
 * the float32 output cost ~9% of a bf16 model load); F32 and F64 scan; integers are always finite.
 * Without `checkFinite`, `finite` is true.
 */
export function widen(dtype: Dtype, buf: ArrayBuffer, count: number, checkFinite: boolean): { data: Float32Array; finite: boolean } {
  const out = new Float32Array(buf, 0, count);
  switch (dtype) {
    case 'F32':
      return { data: out, finite: !checkFinite || findNonFinite(out) < 0 };
    case 'BF16': {
      // Walk backwards: out[i] occupies the bytes of inputs 2i and 2i+1, which are already consumed.
      const src = new Uint16Array(buf, 0, count);
      const bits = new Uint32Array(buf, 0, count);
      // Exponent all ones (0x7f80) ⇔ NaN or ±Inf; adding 0x80 then carries into bit 15 only then.
      let bad = 0;
      for (let i = count - 1; i >= 0; i--) {
        const h = src[i];
        bad |= (h & 0x7f80) + 0x80;
        bits[i] = h << 16;
      }
      return { data: out, finite: !checkFinite || (bad & 0x8000) === 0 };
    }
    case 'F16': {
      const src = new Uint16Array(buf, 0, count);
      const t = getHalfTable();
      // Exponent all ones (0x7c00) ⇔ NaN or ±Inf.
      let bad = 0;
      for (let i = count - 1; i >= 0; i--) {
        const h = src[i];
        bad |= (h & 0x7c00) + 0x400;
        out[i] = t[h];
      }
      return { data: out, finite: !checkFinite || (bad & 0x8000) === 0 };
    }
    case 'I16': {
      const src = new Int16Array(buf, 0, count);
      for (let i = count - 1; i >= 0; i--) {
        out[i] = src[i];
      }
      return { data: out, finite: true };
    }
    case 'U16': {
      const src = new Uint16Array(buf, 0, count);
      for (let i = count - 1; i >= 0; i--) {
        out[i] = src[i];
      }
      return { data: out, finite: true };
    }
    case 'I8': {
      const src = new Int8Array(buf, 0, count);
      for (let i = count - 1; i >= 0; i--) {
        out[i] = src[i];
      }
      return { data: out, finite: true };
    }
    case 'U8':
    case 'BOOL': {
      const src = new Uint8Array(buf, 0, count);
      for (let i = count - 1; i >= 0; i--) {
        out[i] = dtype === 'BOOL' ? (src[i] ? 1 : 0) : src[i];
      }
      return { data: out, finite: true };
    }
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const table = new Float32Array(256);
      for (let b = 0; b < 256; b++) {
        table[b] = dtype === 'F8_E4M3' ? fp8e4m3ToFloat(b) : fp8e5m2ToFloat(b);
      }
      const src = new Uint8Array(buf, 0, count);
      for (let i = count - 1; i >= 0; i--) {
        out[i] = table[src[i]];
      }
      // Few fp8 checkpoints are large enough for a second pass over the output to matter.
      return { data: out, finite: !checkFinite || findNonFinite(out) < 0 };
    }
    case 'I32': {
      const src = new Int32Array(buf, 0, count);
      for (let i = 0; i < count; i++) {
        out[i] = src[i];
      }
      return { data: out, finite: true };
    }
    case 'U32': {
      const src = new Uint32Array(buf, 0, count);
      for (let i = 0; i < count; i++) {
        out[i] = src[i];
      }
      return { data: out, finite: true };
    }
    case 'F64': {
      // 8-byte inputs are wider than the outputs: walk forwards (output i ends before input i starts).
      const src = new Float64Array(buf, 0, count);
      for (let i = 0; i < count; i++) {
        out[i] = src[i];
      }
      // Checked after narrowing, so a double beyond float32's range counts as the Inf it became.
      return { data: out, finite: !checkFinite || findNonFinite(out) < 0 };
    }
    case 'I64': {
      const src = new BigInt64Array(buf, 0, count);
      for (let i = 0; i < count; i++) {
        out[i] = Number(src[i]);
      }
      return { data: out, finite: true };
    }
    case 'U64': {
      const src = new BigUint64Array(buf, 0, count);
      for (let i = 0; i < count; i++) {
        out[i] = Number(src[i]);
      }
      return { data: out, finite: true };
    }
  }
}
