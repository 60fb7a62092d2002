/**
 * @file Routed expert ids as .npy: int32 [tokens, moe_layers, k], the array vLLM and SGLang return
 * with `--enable-return-routed-experts` (SGLang base64-encodes it in `sgl_ext.routed_experts`; decode
 * that to a file first). A token with fewer than k experts is padded with −1, which import drops.
 * The importer parses the header dict strictly and checks the shape against the byte count and the
 * trace limits before it allocates anything.
 */
import { TRACE_LIMITS } from '../shared/traceCheck';
import type { RoutingTrace } from '../shared/trace';
import { assembleImported, bareTokens, expertCount, importFail, importedLayer, layerNumbers, unknownModel } from './importedTrace';
import { NO_EXPERT, routedTable } from './routedTable';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** The npy bytes of a trace's expert ids, int32 [T, L, k]. */
export function traceToNpy(trace: RoutingTrace): Buffer {
  const { T, layers, k } = routedTable(trace);
  const L = layers.length;
  let dict = `{'descr': '<i4', 'fortran_order': False, 'shape': (${T}, ${L}, ${k}), }`;
  // Version 1.0: magic, 2 version bytes, u16 header length; the whole header a multiple of 64, ending in \n.
  const pad = 64 - ((MAGIC.length + 4 + dict.length + 1) % 64);
  dict += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  const data = new Int32Array(T * L * k).fill(NO_EXPERT);
  for (let t = 0; t < T; t++) {
    layers.forEach((l, li) => l.experts[t].forEach((e, r) => (data[(t * L + li) * k + r] = e)));
  }
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), Buffer.from(data.buffer)]);
}

const HEADER = /^\{\s*'descr'\s*:\s*'([^']*)'\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*\(([^)]*)\)\s*,?\s*\}\s*$/;

export interface NpyImportOptions {
  experts?: number;
  layers?: number[];
}

export function npyToTrace(buf: Buffer, file: string, opts: NpyImportOptions = {}): RoutingTrace {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    importFail('not an .npy file (no \\x93NUMPY magic)');
  }
  const major = buf[6];
  if (major < 1 || major > 3) {
    importFail(`npy format version ${major}.${buf[7]} is not supported (1.0 … 3.0)`);
  }
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) {
    importFail('the npy header is truncated');
  }
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > buf.length) {
    importFail(`the npy header length ${headerLen} runs past the end of the file`);
  }
  const dict = buf.subarray(8 + lenBytes, dataStart).toString('latin1');
  const m = HEADER.exec(dict);
  if (!m) {
    importFail("the npy header is not a {'descr', 'fortran_order', 'shape'} dict");
  }
  const [, descr, fortran, shapeText] = m;
  if (descr !== '<i4') {
    importFail(`npy dtype '${descr.slice(0, 8)}' is not int32 little-endian ('<i4')`);
  }
  if (fortran !== 'False') {
    importFail('a Fortran-order npy is not supported (C order expected)');
  }
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (dims.length !== 3 || dims.some((d) => !/^\d{1,10}$/.test(d))) {
    importFail('the npy shape must be (tokens, moe_layers, k)');
  }
  const [T, L, k] = dims.map(Number);
  if (T < 1 || T > TRACE_LIMITS.tokens || L > TRACE_LIMITS.layers || k < 1 || k > TRACE_LIMITS.experts) {
    importFail(`npy shape (${T}, ${L}, ${k}) is outside the limits (1..${TRACE_LIMITS.tokens} tokens, ≤ ${TRACE_LIMITS.layers} layers, 1..${TRACE_LIMITS.experts} experts per token)`);
  }
  const bytes = T * L * k * 4;
  if (buf.length - dataStart !== bytes) {
    importFail(`the npy data is ${buf.length - dataStart} bytes, shape (${T}, ${L}, ${k}) needs ${bytes}`);
  }
  const data = new Int32Array(buf.buffer.slice(buf.byteOffset + dataStart, buf.byteOffset + buf.length));
  let maxSeen = -1;
  for (const e of data) {
    if (e < NO_EXPERT || e >= TRACE_LIMITS.experts) {
      importFail(`npy expert id ${e} is out of range (−1 for none, else 0..${TRACE_LIMITS.experts - 1})`);
    }
    maxSeen = Math.max(maxSeen, e);
  }
  const E = expertCount(opts.experts, maxSeen);
  const numbers = layerNumbers(opts.layers, L);
  const layers = numbers.map((n, li) => {
    const experts: number[][] = [];
    for (let t = 0; t < T; t++) {
      const row: number[] = [];
      for (let r = 0; r < k; r++) {
        const e = data[(t * L + li) * k + r];
        if (e === NO_EXPERT) {
          continue;
        }
        if (row.includes(e)) {
          importFail(`npy: expert ${e} appears twice for token ${t} in layer ${n}`);
        }
        row.push(e);
      }
      experts.push(row);
    }
    return importedLayer(n, experts, null);
  });
  return assembleImported(unknownModel(file, 'npy', numbers, E, k), bareTokens(T), layers);
}
