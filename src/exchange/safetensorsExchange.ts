/**
 * @file A trace as one .safetensors file and back. Tensors: `experts` I32 [T, L, k] (−1 pads a token
 * with fewer experts), `weights` F32 [T, L, k], `scores` and `router_logits` F32 [T, L, E], `token_ids`
 * I32 [T] and `spans` I32 [T, 2] (−1 where null), and where the trace has them `shared_weight` F32
 * [T, L], `selection` F32 [T, L, E], `logits` F32 [T, V]; L counts the MoE layers in trace order. The
 * rest of the trace (model, backend, token text, layer numbers and kinds, which fields each layer has,
 * surprisal, windows) is JSON under `__metadata__["moe-lens.trace"]`. A layer without a field is
 * stored as NaN and listed as absent, so it imports as null again.
 *
 * Import reads the header with the checkpoint loader's validator (sizes, dtypes, offsets that tile the
 * file exactly), checks every tensor's dtype and shape against the others before reading its bytes,
 * and parses the metadata with the strict JSON parser (duplicate keys refused, `__proto__` an ordinary
 * key). Then the one trace validator runs on the result.
 */
import { open } from 'node:fs/promises';
import { readExactly, readSafetensorsHeader, type HeaderTensor } from '../engine/checkpoint/safetensorsHeader';
import { JsonSyntaxError, isJsonObject, parseStrictJson, type JsonValue } from '../engine/checkpoint/strictJson';
import { TRACE_LIMITS, checkTrace } from '../shared/traceCheck';
import { traceToJson, type LayerRouting, type RoutingTrace, type TraceToken } from '../shared/trace';
import { MAX_IMPORT_BYTES, assembleImported, expertCount, importFail, importedLayer, layerNumbers, unknownModel } from './importedTrace';
import { NO_EXPERT, routedTable } from './routedTable';

export const METADATA_KEY = 'moe-lens.trace';

type LayerField = 'weights' | 'scores' | 'routerLogits' | 'sharedWeight' | 'selection';
const LAYER_FIELDS: readonly LayerField[] = ['weights', 'scores', 'routerLogits', 'sharedWeight', 'selection'];

interface Tensor {
  dtype: 'I32' | 'F32';
  shape: number[];
  data: Int32Array | Float32Array;
}

/** safetensors bytes: u64 header length, JSON header padded with spaces to 8 bytes, then the data in order. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const parts: Buffer[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), ...parts]);
}

export function traceToSafetensors(trace: RoutingTrace): Buffer {
  const { T, layers, k } = routedTable(trace);
  const L = layers.length;
  const E = trace.model.numExperts;
  const experts = new Int32Array(T * L * k).fill(NO_EXPERT);
  const weights = new Float32Array(T * L * k).fill(NaN);
  const perTokenE = (field: 'scores' | 'routerLogits' | 'selection'): Float32Array | null => {
    if (!layers.some((l) => l[field])) {
      return null;
    }
    const out = new Float32Array(T * L * E).fill(NaN);
    layers.forEach((l, li) => l[field]?.forEach((row, t) => out.set(row, (t * L + li) * E)));
    return out;
  };
  for (let t = 0; t < T; t++) {
    layers.forEach((l, li) => {
      l.experts[t].forEach((e, r) => (experts[(t * L + li) * k + r] = e));
      l.weights?.[t].forEach((w, r) => (weights[(t * L + li) * k + r] = w));
    });
  }
  const tensors: Record<string, Tensor> = { experts: { dtype: 'I32', shape: [T, L, k], data: experts } };
  if (layers.some((l) => l.weights)) {
    tensors.weights = { dtype: 'F32', shape: [T, L, k], data: weights };
  }
  for (const [name, field] of [['scores', 'scores'], ['router_logits', 'routerLogits'], ['selection', 'selection']] as const) {
    const data = perTokenE(field);
    if (data) {
      tensors[name] = { dtype: 'F32', shape: [T, L, E], data };
    }
  }
  if (layers.some((l) => l.sharedWeight)) {
    const data = new Float32Array(T * L).fill(NaN);
    layers.forEach((l, li) => l.sharedWeight?.forEach((w, t) => (data[t * L + li] = w)));
    tensors.shared_weight = { dtype: 'F32', shape: [T, L], data };
  }
  tensors.token_ids = { dtype: 'I32', shape: [T], data: Int32Array.from(trace.tokens, (tok) => tok.id ?? -1) };
  tensors.spans = { dtype: 'I32', shape: [T, 2], data: Int32Array.from(trace.tokens.flatMap((tok) => [tok.start ?? -1, tok.end ?? -1])) };
  if (trace.logits) {
    const V = trace.model.vocabSize;
    const data = new Float32Array(T * V);
    trace.logits.forEach((row, t) => data.set(row, t * V));
    tensors.logits = { dtype: 'F32', shape: [T, V], data };
  }
  const rest = {
    schema: trace.schema,
    model: trace.model,
    backend: trace.backend,
    tokens: trace.tokens.map((tok) => (tok.partial === undefined ? { text: tok.text } : { text: tok.text, partial: tok.partial })),
    layers: trace.layers.map((l) => ({ layer: l.layer, kind: l.kind, has: LAYER_FIELDS.filter((f) => l[f] !== null && l[f] !== undefined) })),
    surprisal: trace.surprisal,
    ...(trace.windows ? { windows: trace.windows } : {}),
    ...(trace.timing ? { timing: trace.timing } : {}),
  };
  return encodeSafetensors(tensors, { [METADATA_KEY]: traceToJson(rest as unknown as RoutingTrace) });
}

const KNOWN: Record<string, 'I32' | 'F32'> = {
  experts: 'I32', weights: 'F32', scores: 'F32', router_logits: 'F32', selection: 'F32',
  shared_weight: 'F32', token_ids: 'I32', spans: 'I32', logits: 'F32',
};

function shapeIs(t: HeaderTensor | undefined, want: number[], what: string): void {
  if (t && (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))) {
    importFail(`tensor "${t.name}" has shape [${t.shape.join(', ')}], expected ${what} [${want.join(', ')}]`);
  }
}

/** What the metadata says about the rest of the trace, checked for shape; the validator does the rest. */
interface Rest {
  obj: Record<string, JsonValue>;
  layers: { layer: number; kind: 'moe' | 'dense'; has: LayerField[] }[];
  tokens: { text: JsonValue; partial?: JsonValue }[];
}

function parseRest(text: string, T: number): Rest {
  let json: JsonValue;
  try {
    json = parseStrictJson(text, { maxDepth: 16 });
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      importFail(`__metadata__["${METADATA_KEY}"] is not valid JSON: ${err.message}`);
    }
    throw err;
  }
  if (!isJsonObject(json) || !Array.isArray(json.layers) || !Array.isArray(json.tokens)) {
    importFail(`__metadata__["${METADATA_KEY}"] must be an object with layers and tokens`);
  }
  if (json.tokens.length !== T) {
    importFail(`__metadata__ lists ${json.tokens.length} tokens, the tensors have ${T}`);
  }
  const layers = json.layers.map((l, i) => {
    if (!isJsonObject(l) || typeof l.layer !== 'number' || (l.kind !== 'moe' && l.kind !== 'dense') || !Array.isArray(l.has) || l.has.some((f) => !LAYER_FIELDS.includes(f as LayerField))) {
      return importFail(`__metadata__ layer entry ${i} must be {layer, kind, has: [${LAYER_FIELDS.join(', ')}]}`);
    }
    return { layer: l.layer, kind: l.kind as 'moe' | 'dense', has: l.has as LayerField[] };
  });
  const tokens = json.tokens.map((t, i) => (isJsonObject(t) ? { text: t.text ?? null, partial: t.partial } : importFail(`__metadata__ token ${i} must be an object`)));
  return { obj: json, layers, tokens };
}

export interface SafetensorsImportOptions {
  experts?: number;
  layers?: number[];
  limit?: number;
}

export async function safetensorsToTrace(file: string, opts: SafetensorsImportOptions = {}): Promise<RoutingTrace> {
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => importFail(`cannot open ${file}: ${err.code ?? err.message}`));
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      importFail(`${file} is not a regular file`);
    }
    const limit = opts.limit ?? MAX_IMPORT_BYTES;
    if (st.size > limit) {
      importFail(`${file} is ${st.size} bytes, over the ${limit}-byte import limit`);
    }
    let header;
    try {
      header = await readSafetensorsHeader(fh, file, st.size);
    } catch (err) {
      return importFail((err as Error).message);
    }
    const ts = header.tensors;
    for (const t of ts.values()) {
      if (!(t.name in KNOWN) || Object.prototype.hasOwnProperty.call(Object.prototype, t.name)) {
        importFail(`unknown tensor "${t.name.slice(0, 40)}" (a trace file has ${Object.keys(KNOWN).join(', ')})`);
      }
      if (t.dtype !== KNOWN[t.name]) {
        importFail(`tensor "${t.name}" is ${t.dtype}, expected ${KNOWN[t.name]}`);
      }
    }
    const ex = ts.get('experts');
    if (!ex) {
      importFail('no "experts" tensor');
    }
    if (ex.shape.length !== 3) {
      importFail(`tensor "experts" must be [tokens, moe_layers, k], got [${ex.shape.join(', ')}]`);
    }
    const [T, L, k] = ex.shape;
    if (T < 1 || T > TRACE_LIMITS.tokens || L > TRACE_LIMITS.layers || k < 1 || k > TRACE_LIMITS.experts) {
      importFail(`tensor "experts" shape [${T}, ${L}, ${k}] is outside the limits`);
    }
    const wide = ts.get('scores') ?? ts.get('router_logits') ?? ts.get('selection');
    const E = wide?.shape[2];
    if (E !== undefined && (E < 1 || E > TRACE_LIMITS.experts)) {
      importFail(`${E} experts is outside 1..${TRACE_LIMITS.experts}`);
    }
    shapeIs(ts.get('weights'), [T, L, k], 'like experts');
    for (const name of ['scores', 'router_logits', 'selection']) {
      shapeIs(ts.get(name), [T, L, E ?? 0], '[tokens, moe_layers, experts]');
    }
    shapeIs(ts.get('shared_weight'), [T, L], '[tokens, moe_layers]');
    shapeIs(ts.get('token_ids'), [T], '[tokens]');
    shapeIs(ts.get('spans'), [T, 2], '[tokens, 2]');
    const logitsT = ts.get('logits');
    if (logitsT && (logitsT.shape.length !== 2 || logitsT.shape[0] !== T)) {
      importFail(`tensor "logits" has shape [${logitsT.shape.join(', ')}], expected [${T}, vocab]`);
    }
    const read = async (name: string): Promise<Int32Array | Float32Array | null> => {
      const t = ts.get(name);
      if (!t) {
        return null;
      }
      const bytes = await readExactly(fh, file, t.end - t.start, t.start);
      return KNOWN[name] === 'I32' ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    };
    const experts = (await read('experts')) as Int32Array;
    let maxSeen = -1;
    for (const e of experts) {
      if (e < NO_EXPERT || e >= (E ?? TRACE_LIMITS.experts)) {
        importFail(`expert id ${e} is out of range (−1 for none, else 0..${(E ?? TRACE_LIMITS.experts) - 1})`);
      }
      maxSeen = Math.max(maxSeen, e);
    }
    const restText = header.metadata?.[METADATA_KEY];
    const rest = restText === undefined ? null : parseRest(restText, T);
    const moeEntries = rest ? rest.layers.filter((l) => l.kind === 'moe') : null;
    if (moeEntries && moeEntries.length !== L) {
      importFail(`__metadata__ lists ${moeEntries.length} MoE layers, tensor "experts" has ${L}`);
    }
    const numbers = moeEntries ? moeEntries.map((l) => l.layer) : layerNumbers(opts.layers, L);
    const has = (li: number, f: LayerField, tensor: string) => (moeEntries ? moeEntries[li].has.includes(f) : ts.has(tensor));
    for (const [f, tensor] of [['weights', 'weights'], ['scores', 'scores'], ['routerLogits', 'router_logits'], ['sharedWeight', 'shared_weight'], ['selection', 'selection']] as const) {
      if (moeEntries?.some((l) => l.has.includes(f)) && !ts.has(tensor)) {
        importFail(`__metadata__ says a layer has ${f} but there is no "${tensor}" tensor`);
      }
    }
    const weights = await read('weights');
    const scores = await read('scores');
    const logitsR = await read('router_logits');
    const selection = await read('selection');
    const shared = await read('shared_weight');
    const rowsOf = (data: Int32Array | Float32Array | null, li: number, width: number, drop: boolean): number[][] =>
      Array.from({ length: T }, (_, t) => {
        const row = Array.from(data!.subarray((t * L + li) * width, (t * L + li + 1) * width));
        return drop ? row.filter((e) => e !== NO_EXPERT) : row;
      });
    const moeLayers: LayerRouting[] = numbers.map((n, li) => {
      const ex = rowsOf(experts, li, k, true);
      const layer = importedLayer(n, ex, has(li, 'weights', 'weights') ? rowsOf(weights, li, k, false).map((row, t) => row.slice(0, ex[t].length)) : null);
      layer.scores = has(li, 'scores', 'scores') ? rowsOf(scores, li, E!, false) : null;
      layer.routerLogits = has(li, 'routerLogits', 'router_logits') ? rowsOf(logitsR, li, E!, false) : null;
      layer.sharedWeight = has(li, 'sharedWeight', 'shared_weight') ? Array.from({ length: T }, (_, t) => shared![t * L + li]) : null;
      if (has(li, 'selection', 'selection')) {
        layer.selection = rowsOf(selection, li, E!, false);
      }
      return layer;
    });
    const ids = await read('token_ids');
    const spans = await read('spans');
    const tokens: TraceToken[] = Array.from({ length: T }, (_, t) => {
      const id = ids && ids[t] !== -1 ? ids[t] : null;
      const start = spans && spans[2 * t] !== -1 ? spans[2 * t] : null;
      const end = spans && spans[2 * t + 1] !== -1 ? spans[2 * t + 1] : null;
      const meta = rest?.tokens[t];
      const tok: TraceToken = { id, text: (meta?.text ?? null) as string | null, start, end };
      if (meta?.partial !== undefined) {
        tok.partial = meta.partial as boolean;
      }
      return tok;
    });
    if (!rest) {
      return assembleImported(unknownModel(file, 'safetensors', numbers, expertCount(opts.experts ?? E, maxSeen), k), tokens, moeLayers);
    }
    let mi = 0;
    const layers = rest.layers.map((l): LayerRouting => (l.kind === 'moe' ? moeLayers[mi++] : { layer: l.layer, kind: 'dense', routerLogits: null, scores: null, experts: null, weights: null, sharedWeight: null }));
    const logits = await read('logits');
    const trace: Record<string, unknown> = { ...rest.obj, tokens, layers };
    if (logits) {
      const V = logitsT!.shape[1];
      trace.logits = Array.from({ length: T }, (_, t) => Array.from(logits.subarray(t * V, (t + 1) * V)));
    }
    return validated(trace);
  } finally {
    await fh.close();
  }
}

/** A trace rebuilt from the metadata, through the one validator; its problems become import errors. */
function validated(trace: Record<string, unknown>): RoutingTrace {
  try {
    return checkTrace(trace);
  } catch (err) {
    return importFail(`the imported trace is not valid: ${(err as Error).message}`);
  }
}
