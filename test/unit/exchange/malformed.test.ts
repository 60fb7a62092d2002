/**
 * Imports are untrusted: each malformed file below gives one clear `import:` error (never a crash,
 * a hang, a huge allocation or a polluted prototype). One row per way a file can be wrong.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { csvToTrace, traceToCsv } from '../../../src/exchange/csv';
import { ImportError, readImportFile } from '../../../src/exchange/importedTrace';
import { npyToTrace, traceToNpy } from '../../../src/exchange/npy';
import { METADATA_KEY, encodeSafetensors, safetensorsToTrace, traceToSafetensors } from '../../../src/exchange/safetensorsExchange';
import type { RoutingTrace } from '../../../src/shared/trace';
import { packTrace, unpackTrace } from '../../../src/shared/tracePacking';

const dir = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-malformed-'));
const H = 'token,start,end,text,layer,rank,expert,weight,score';
const GOOD_CSV = [H, '0,0,1,a,0,0,1,0.5,0.5', '0,0,1,a,0,1,0,0.25,', '1,1,2,"b,""c""",0,0,2,0.75,NaN', '1,1,2,"b,""c""",0,1,1,-Infinity,'].join('\r\n') + '\r\n';
const base: RoutingTrace = csvToTrace(GOOD_CSV, 'good.csv', { experts: 4 });
const GOOD_NPY = traceToNpy(base);

function npyWith(dict: string, data: Buffer, major = 1): Buffer {
  const head = Buffer.alloc(major === 1 ? 10 : 12);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]).copy(head);
  head[6] = major;
  if (major === 1) {
    head.writeUInt16LE(dict.length, 8);
  } else {
    head.writeUInt32LE(dict.length, 8);
  }
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), data]);
}
const i32 = (...xs: number[]) => Buffer.from(Int32Array.from(xs).buffer);
const dict = (shape: string, descr = '<i4', fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

type T = { dtype: 'I32' | 'F32'; shape: number[]; data: Int32Array | Float32Array };
const I = (shape: number[], ...xs: number[]): T => ({ dtype: 'I32', shape, data: Int32Array.from(xs) });
const F = (shape: number[], ...xs: number[]): T => ({ dtype: 'F32', shape, data: Float32Array.from(xs) });
const EX = I([2, 1, 1], 0, 1);

const csvCases: [string, string, RegExp][] = [
  ['empty file', '', /empty/],
  ['wrong header', 'token,layer,expert\r\n0,0,1\r\n', /header must be exactly/],
  ['header only', H + '\r\n', /no rows/],
  ['too few fields', H + '\r\n0,0,1,a,0,0,1\r\n', /7 fields, expected 9/],
  ['too many fields', H + '\r\n0,0,1,a,0,0,1,0.5,0.5,x\r\n', /10 fields/],
  ['unclosed quote', H + '\r\n0,0,1,"a,0,0,1,0.5,\r\n', /quoted field is not closed/],
  ['quote inside a field', H + '\r\n0,0,1,a"b,0,0,1,0.5,\r\n', /quote inside an unquoted field/],
  ['text after a closing quote', H + '\r\n0,0,1,"a"b,0,0,1,0.5,\r\n', /text after a closing quote/],
  ['bare CR', H + '\r\n0,0,1,a,0,0,1,0.5,\r0,0,1,a,0,1,2,0.5,\r\n', /CR not followed by LF/],
  ['token not an integer', H + '\r\n0.5,0,1,a,0,0,1,0.5,\r\n', /token must be an integer/],
  ['negative token', H + '\r\n-1,0,1,a,0,0,1,0.5,\r\n', /token must be an integer/],
  ['token skips ahead', H + '\r\n0,0,1,a,0,0,1,0.5,\r\n2,1,2,b,0,0,1,0.5,\r\n', /token 2 out of order/],
  ['first token not 0', H + '\r\n1,0,1,a,0,0,1,0.5,\r\n', /token 1 out of order/],
  ['start without end', H + '\r\n0,0,,a,0,0,1,0.5,\r\n', /both be given or both be empty/],
  ['end before start', H + '\r\n0,5,1,a,0,0,1,0.5,\r\n', /end \(≥ start\)/],
  ['huge start', H + '\r\n0,99999999999999999,100000000000000000,a,0,0,1,0.5,\r\n', /start must be an integer/],
  ['layer past the limit', H + '\r\n0,0,1,a,5000,0,1,0.5,\r\n', /layer must be an integer in 0..1024/],
  ['expert past the limit', H + '\r\n0,0,1,a,0,0,4096,0.5,\r\n', /expert must be an integer in 0..4095/],
  ['expert given as text', H + '\r\n0,0,1,a,0,0,one,0.5,\r\n', /expert must be an integer/],
  ['rank starts at 1', H + '\r\n0,0,1,a,0,1,1,0.5,\r\n', /rank 1 out of order/],
  ['expert twice', H + '\r\n0,0,1,a,0,0,1,0.5,\r\n0,0,1,a,0,1,1,0.5,\r\n', /expert 1 listed twice/],
  ['weight not a number', H + '\r\n0,0,1,a,0,0,1,0x1p3,\r\n', /weight is not a number/],
  ['weight as a formula', H + "\r\n0,0,1,a,0,0,1,=1+1,\r\n", /weight is not a number/],
  ['score not a number', H + '\r\n0,0,1,a,0,0,1,0.5,abc\r\n', /score is not a number/],
  ['text differs between rows', H + '\r\n0,0,1,a,0,0,1,0.5,\r\n0,0,1,b,0,1,2,0.5,\r\n', /differ from its first row/],
  ['layers out of order', H + '\r\n0,0,1,a,1,0,1,0.5,\r\n0,0,1,a,0,0,2,0.5,\r\n', /layer 0 out of order/],
  ['tokens list different layers', H + '\r\n0,0,1,a,0,0,1,0.5,\r\n1,1,2,b,1,0,1,0.5,\r\n', /token 1 lists layers 1, token 0 lists 0/],
  ['weights in some rows only', H + '\r\n0,0,1,a,0,0,1,0.5,\r\n1,1,2,b,0,0,1,,\r\n', /weights for some rows and not others/],
  ['expert beyond --experts', H + '\r\n0,0,1,a,0,0,7,0.5,\r\n', /expert id 7 is out of range for 4 experts/],
];

const npyCases: [string, Buffer, RegExp][] = [
  ['no magic', Buffer.from('not an npy file at all'), /no \\x93NUMPY magic/],
  ['too short', Buffer.from([0x93, 0x4e]), /no \\x93NUMPY magic/],
  ['version 9', npyWith(dict('(1, 1, 1)'), i32(0)).fill(9, 6, 7), /version 9/],
  ['header length past the end', npyWith(dict('(1, 1, 1)'), i32(0)).subarray(0, 20), /runs past the end/],
  ['header not a dict', npyWith("{'descr': '<i4'}\n", i32(0)), /not a \{'descr'/],
  ['float dtype', npyWith(dict('(1, 1, 1)', '<f4'), i32(0)), /'<f4' is not int32/],
  ['big-endian int32', npyWith(dict('(1, 1, 1)', '>i4'), i32(0)), /is not int32 little-endian/],
  ['Fortran order', npyWith(dict('(1, 1, 1)', '<i4', 'True'), i32(0)), /Fortran-order/],
  ['two dimensions', npyWith(dict('(2, 1)'), i32(0, 1)), /shape must be \(tokens, moe_layers, k\)/],
  ['negative dimension', npyWith(dict('(-1, 1, 1)'), i32(0)), /shape must be/],
  ['zero tokens', npyWith(dict('(0, 1, 1)'), Buffer.alloc(0)), /outside the limits/],
  ['huge shape, tiny data (checked before allocating)', npyWith(dict('(9999999, 1024, 4096)'), i32(0)), /data is 4 bytes, shape \(9999999, 1024, 4096\) needs 167772143222784/],
  ['data shorter than the shape', npyWith(dict('(4, 1, 2)'), i32(0, 1, 2)), /data is 12 bytes, shape \(4, 1, 2\) needs 32/],
  ['data longer than the shape', npyWith(dict('(1, 1, 1)'), i32(0, 1)), /data is 8 bytes/],
  ['expert id −2', npyWith(dict('(1, 1, 1)'), i32(-2)), /expert id -2 is out of range/],
  ['expert id past the limit', npyWith(dict('(1, 1, 1)'), i32(5000)), /expert id 5000 is out of range/],
  ['expert twice for a token', npyWith(dict('(1, 1, 2)'), i32(3, 3)), /expert 3 appears twice/],
  ['version 2 header length past the end', npyWith(dict('(1, 1, 1)'), Buffer.alloc(0), 2).subarray(0, 12), /runs past the end/],
];

function stFile(name: string, bytes: Buffer): string {
  const f = path.join(dir, `${name.replace(/\W+/g, '_')}.safetensors`);
  writeFileSync(f, bytes);
  return f;
}
const goodSt = traceToSafetensors(base);
const meta = (rest: unknown) => ({ [METADATA_KEY]: typeof rest === 'string' ? rest : JSON.stringify(rest) });

const stCases: [string, Buffer, RegExp][] = [
  ['empty file', Buffer.alloc(0), /shorter than the 8-byte header length/],
  ['header length past the end', Buffer.concat([Buffer.from([255, 255, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]), /runs past the end of the file/],
  ['truncated data', goodSt.subarray(0, goodSt.length - 4), /./],
  ['no experts tensor', encodeSafetensors({ weights: F([2, 1, 1], 1, 1) }, {}), /no "experts" tensor/],
  ['unknown tensor', encodeSafetensors({ experts: EX, model_weights: F([1], 0) }, {}), /unknown tensor "model_weights"/],
  ['tensor named __proto__', encodeSafetensors({ experts: EX, __proto__x: F([1], 0) }, {}), /unknown tensor/],
  ['experts as F32', encodeSafetensors({ experts: F([2, 1, 1], 0, 1) }, {}), /"experts" is F32, expected I32/],
  ['experts of rank 2', encodeSafetensors({ experts: I([2, 1], 0, 1) }, {}), /must be \[tokens, moe_layers, k\]/],
  ['weights of another shape', encodeSafetensors({ experts: EX, weights: F([2, 1, 2], 1, 1, 1, 1) }, {}), /"weights" has shape \[2, 1, 2\], expected like experts \[2, 1, 1\]/],
  ['spans of the wrong shape', encodeSafetensors({ experts: EX, spans: I([2], 0, 1) }, {}), /"spans" has shape \[2\]/],
  ['scores narrower than an expert id', encodeSafetensors({ experts: EX, scores: F([2, 1, 1], 1, 1) }, {}), /expert id 1 is out of range/],
  ['expert id −5', encodeSafetensors({ experts: I([2, 1, 1], 0, -5) }, {}), /expert id -5 is out of range/],
  ['metadata not JSON', encodeSafetensors({ experts: EX }, meta('{"layers": [')), /is not valid JSON/],
  ['metadata with a duplicate key', encodeSafetensors({ experts: EX }, meta('{"layers": [], "layers": [], "tokens": []}')), /not valid JSON.*[Dd]uplicate/],
  ['metadata without layers', encodeSafetensors({ experts: EX }, meta({ tokens: [{}, {}] })), /must be an object with layers and tokens/],
  ['metadata token count differs', encodeSafetensors({ experts: EX }, meta({ layers: [], tokens: [{ text: 'a' }] })), /lists 1 tokens, the tensors have 2/],
  ['metadata MoE layer count differs', encodeSafetensors({ experts: EX }, meta({ layers: [], tokens: [{}, {}] })), /lists 0 MoE layers, tensor "experts" has 1/],
  ['metadata layer has an unknown field', encodeSafetensors({ experts: EX }, meta({ layers: [{ layer: 0, kind: 'moe', has: ['secrets'] }], tokens: [{}, {}] })), /layer entry 0 must be/],
  ['metadata says weights, no tensor', encodeSafetensors({ experts: EX }, meta({ layers: [{ layer: 0, kind: 'moe', has: ['weights'] }], tokens: [{}, {}] })), /has weights but there is no "weights" tensor/],
  ['metadata model missing', encodeSafetensors({ experts: EX }, meta({ layers: [{ layer: 0, kind: 'moe', has: [] }], tokens: [{}, {}], schema: 'moe-lens.trace/1' })), /not valid: trace: model must be an object/],
  ['metadata token text a number', encodeSafetensors({ experts: I([2, 1, 2], 1, 0, 2, 1), weights: F([2, 1, 2], 0.5, 0.25, 0.75, -Infinity) }, meta({ ...JSON.parse(traceToJsonRest()), tokens: [{ text: 1 }, { text: 'b' }] })), /text must be a string or null/],
];

/** The good file's metadata JSON, to vary one field of. */
function traceToJsonRest(): string {
  const len = Number(goodSt.readBigUInt64LE(0));
  const header = JSON.parse(goodSt.subarray(8, 8 + len).toString('utf8')) as { __metadata__: Record<string, string> };
  return header.__metadata__[METADATA_KEY];
}

function assertOneImportError(run: () => unknown, want: RegExp): Promise<void> {
  return (async () => {
    let err: unknown;
    try {
      await run();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    assert.match(err.message, /^import: /);
    assert.match(err.message, want);
    assert.ok(!err.message.includes('\n'), 'one line');
  })();
}

describe('malformed imports: one clear error each', () => {
  test('the table has at least 40 cases', () => {
    assert.ok(csvCases.length + npyCases.length + stCases.length >= 40);
  });
  test('the valid files the cases vary do import', async () => {
    assert.equal(base.tokens.length, 2);
    assert.deepEqual(base.layers[0].weights, [[0.5, 0.25], [0.75, -Infinity]], 'NaN score ignored, -Infinity weight kept');
    assert.deepEqual(base.tokens[1].text, 'b,"c"');
    assert.deepEqual(npyToTrace(GOOD_NPY, 'good.npy').layers[0].experts, base.layers[0].experts);
    const st = await safetensorsToTrace(stFile('good', goodSt));
    assert.deepStrictEqual(st.layers[0].weights, [[0.5, 0.25], [0.75, -Infinity]]);
    assert.equal(csvToTrace(traceToCsv(base), 'again.csv', { experts: 4 }).layers[0].weights![1][1], -Infinity, 'non-finite numbers round-trip');
  });
  test('an imported trace without ids or weights crosses the host → webview hop and passes the validator there', async () => {
    const npy = npyToTrace(GOOD_NPY, 'good.npy');
    const back = await unpackTrace(JSON.parse(JSON.stringify(packTrace(npy))), async () => {});
    assert.deepStrictEqual(back.layers[0].experts, npy.layers[0].experts);
    assert.equal(back.layers[0].weights, null);
    assert.equal(back.tokens[0].id, null);
  });
  for (const [name, text, want] of csvCases) {
    test(`csv: ${name}`, () => assertOneImportError(() => csvToTrace(text, 'bad.csv', { experts: name.includes('--experts') ? 4 : undefined }), want));
  }
  for (const [name, bytes, want] of npyCases) {
    test(`npy: ${name}`, () => assertOneImportError(() => npyToTrace(bytes, 'bad.npy'), want));
  }
  for (const [name, bytes, want] of stCases) {
    test(`safetensors: ${name}`, () => assertOneImportError(() => safetensorsToTrace(stFile(name, bytes)), want));
  }
  test('a file over the size limit is refused before it is read', async () => {
    const f = stFile('big', Buffer.alloc(2048));
    await assertOneImportError(() => readImportFile(f, 1024), /the import file is 2 KB, over the 1 KB limit/);
    await assertOneImportError(() => safetensorsToTrace(f, { limit: 1024 }), /over the 1024-byte import limit/);
    await assertOneImportError(() => readImportFile(dir), /regular file|directory/i);
  });
  test('a "__proto__" key in the metadata stays an inert own key', async () => {
    const rest = JSON.parse(traceToJsonRest()) as Record<string, unknown>;
    const text = JSON.stringify(rest).replace(/^\{/, '{"__proto__":{"polluted":true},');
    const trace = await safetensorsToTrace(stFile('proto', encodeSafetensors({ experts: I([2, 1, 2], 1, 0, 2, 1), weights: F([2, 1, 2], 0.5, 0.25, 0.75, -Infinity) }, meta(text))));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((trace as unknown as Record<string, unknown>).polluted, undefined);
  });
});
