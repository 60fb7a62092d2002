/**
 * @file The engine → host encoding of a trace (what travels on each hop is decided in traceCodec.ts). A trace is mostly numbers ([T][E] router logits
 * and scores per layer); as JSON a 3,500-token trace of a small model is ~10 MB and parsing it
 * stalls the extension host for hundreds of ms. Here each matrix travels as base64 of its
 * little-endian Float64 (or Int32) values: exact (NaN and ±Infinity included), ~2× smaller, parsed
 * as one string, and unpacked matrix by matrix with yields in between.
 */
import { checkModelInfo, checkTrace, TraceError } from './traceCheck';
import type { LayerRouting, RoutingTrace } from './trace';

export interface PackedMatrix {
  dtype: 'f64' | 'f32' | 'i32';
  rows: number;
  /** Row length when all rows have it; -1 when ragged (then `offsets` holds rows+1 Int32 starts). */
  cols: number;
  /** base64 of the row-major values. */
  data: string;
  offsets?: string;
}

export interface PackedLayer {
  layer: number;
  kind: 'moe' | 'dense';
  routerLogits: PackedMatrix | null;
  scores: PackedMatrix | null;
  experts: PackedMatrix | null;
  weights: PackedMatrix | null;
  /** A [T] vector, packed as a 1-row matrix. */
  sharedWeight: PackedMatrix | null;
  /** DeepSeek-V3 only; −∞ entries are exact in f32. */
  selection?: PackedMatrix | null;
}

export type PackedTrace = Omit<RoutingTrace, 'layers'> & { layers: PackedLayer[]; packing: 'moe-lens.packed/1' };

function toBase64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/** Copies into a fresh, aligned buffer (Buffer.from(base64) may sit unaligned in Node's pool). */
function fromBase64(data: string): ArrayBuffer {
  const buf = Buffer.from(data, 'base64');
  const out = new ArrayBuffer(buf.byteLength);
  new Uint8Array(out).set(buf);
  return out;
}

export function packMatrix(rows: readonly (readonly number[])[] | null, dtype: PackedMatrix['dtype'] = 'f64'): PackedMatrix | null {
  if (!rows) {
    return null;
  }
  const n = rows.length;
  const cols = n > 0 && rows.every((r) => r.length === rows[0].length) ? rows[0].length : n === 0 ? 0 : -1;
  let total = 0;
  for (const r of rows) {
    total += r.length;
  }
  const values = dtype === 'f64' ? new Float64Array(total) : dtype === 'f32' ? new Float32Array(total) : new Int32Array(total);
  const offsets = cols < 0 ? new Int32Array(n + 1) : null;
  let at = 0;
  rows.forEach((r, i) => {
    if (offsets) {
      offsets[i] = at;
    }
    values.set(r, at);
    at += r.length;
  });
  if (offsets) {
    offsets[n] = at;
  }
  return { dtype, rows: n, cols, data: toBase64(values), ...(offsets ? { offsets: toBase64(offsets) } : {}) };
}

/** The matrix back as rows; `maxRows` bounds the header's row count before anything is allocated from it. */
export function unpackMatrix(m: PackedMatrix | null | undefined, maxRows = Number.MAX_SAFE_INTEGER): number[][] | null {
  if (!m) {
    return null;
  }
  if ((m.dtype !== 'f64' && m.dtype !== 'f32' && m.dtype !== 'i32') || !Number.isInteger(m.rows) || m.rows < 0 || m.rows > maxRows || !Number.isInteger(m.cols) || typeof m.data !== 'string') {
    throw new Error(`packed matrix: bad header (rows must be an integer in 0..${maxRows})`);
  }
  const raw = fromBase64(m.data);
  const width = m.dtype === 'f64' ? 8 : 4;
  if (raw.byteLength % width !== 0) {
    throw new Error('packed matrix: data length is not a whole number of values');
  }
  const values = m.dtype === 'f64' ? new Float64Array(raw) : m.dtype === 'f32' ? new Float32Array(raw) : new Int32Array(raw);
  let starts: Int32Array;
  if (m.cols >= 0) {
    if (m.rows * m.cols !== values.length) {
      throw new Error(`packed matrix: ${m.rows}×${m.cols} does not match ${values.length} values`);
    }
    starts = new Int32Array(m.rows + 1).map((_, i) => i * m.cols);
  } else {
    if (typeof m.offsets !== 'string') {
      throw new Error('packed matrix: ragged rows without offsets');
    }
    starts = new Int32Array(fromBase64(m.offsets));
    if (starts.length !== m.rows + 1 || starts[m.rows] !== values.length || starts.some((s, i) => s < 0 || (i > 0 && s < starts[i - 1]))) {
      throw new Error('packed matrix: bad row offsets');
    }
  }
  const out: number[][] = new Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    const s = starts[i];
    const n = starts[i + 1] - s;
    // A plain loop: Array.from over a typed subarray is several times slower.
    const row: number[] = new Array(n);
    for (let j = 0; j < n; j++) {
      row[j] = values[s + j];
    }
    out[i] = row;
  }
  return out;
}

export function packTrace(trace: RoutingTrace): PackedTrace {
  return {
    ...trace,
    packing: 'moe-lens.packed/1',
    layers: trace.layers.map((l) => ({
      layer: l.layer,
      kind: l.kind,
      routerLogits: packMatrix(l.routerLogits, 'f32'),
      scores: packMatrix(l.scores, 'f32'),
      experts: packMatrix(l.experts, 'i32'),
      weights: packMatrix(l.weights),
      sharedWeight: l.sharedWeight ? packMatrix([l.sharedWeight]) : null,
      ...(l.selection ? { selection: packMatrix(l.selection, 'f32') } : {}),
    })),
  };
}

/**
 * The trace back as plain arrays, checked by the one trace validator. The model info and the token
 * count are checked before any matrix is unpacked, and every matrix is bounded by them. Yields to
 * the event loop between matrices (`yieldFn`), so a large trace never blocks the extension host in
 * one piece. Throws a `TraceError` on malformed input.
 */
export async function unpackTrace(packed: unknown, yieldFn: () => Promise<void> = () => new Promise((r) => setImmediate(r))): Promise<RoutingTrace> {
  const p = packed as PackedTrace;
  if (typeof p !== 'object' || p === null || p.packing !== 'moe-lens.packed/1' || !Array.isArray(p.layers) || !Array.isArray(p.tokens)) {
    throw new TraceError("packed trace: expected packing 'moe-lens.packed/1', a tokens array and a layers array");
  }
  const { numLayers } = checkModelInfo(p.model);
  const T = p.tokens.length;
  if (p.layers.length > Math.max(numLayers, 1)) {
    throw new TraceError(`trace: layers must be an array of at most ${numLayers} layers`);
  }
  const unpack = (m: PackedMatrix | null | undefined, rows: number): number[][] | null => {
    try {
      return unpackMatrix(m, rows);
    } catch (err) {
      throw new TraceError(`packed trace: ${(err as Error).message}`);
    }
  };
  const layers: LayerRouting[] = [];
  for (const l of p.layers as unknown[]) {
    if (typeof l !== 'object' || l === null) {
      throw new TraceError('packed trace: a layer is not an object');
    }
    const pl = l as PackedLayer;
    const layer: LayerRouting = {
      layer: pl.layer,
      kind: pl.kind,
      routerLogits: unpack(pl.routerLogits, T),
      scores: null,
      experts: null,
      weights: null,
      sharedWeight: null,
    };
    await yieldFn();
    layer.scores = unpack(pl.scores, T);
    await yieldFn();
    layer.experts = unpack(pl.experts, T);
    layer.weights = unpack(pl.weights, T);
    layer.sharedWeight = unpack(pl.sharedWeight, 1)?.[0] ?? null;
    if (pl.selection) {
      await yieldFn();
      layer.selection = unpack(pl.selection, T);
    }
    layers.push(layer);
  }
  const { packing: _packing, layers: _layers, ...rest } = p;
  void _packing;
  void _layers;
  return checkTrace({ ...rest, layers });
}
