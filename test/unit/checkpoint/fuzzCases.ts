/**
 * @file Generators of damaged model folders for the checkpoint fuzz suite. Each case writes one
 * folder under a temp root and says which file the error must name and what it must say. Nothing
 * binary is committed: every file is made here.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSafetensors, rawSafetensors, writeSafetensors } from '../../helpers/writeSafetensors';

export type Entry = 'open' | 'config' | 'read';

export interface FuzzCase {
  kind: string;
  label: string;
  /** Lays the folder out in `dir` (which exists and is empty). */
  make(dir: string): void;
  /** Which API call must reject: openCheckpoint (default), readModelConfig, or readFloat32 of every tensor with checkFinite. */
  entry?: Entry;
  /** A file (base name) or folder the message must name. */
  names: string;
  /** What the message must say about the problem. */
  says: RegExp;
}

const F = 'model.safetensors';

/** A small valid checkpoint: a F32 [2,3], b BF16 [4], c I32 [2]: 24 + 8 + 8 = 40 data bytes. */
export function validFile(): Buffer {
  return buildSafetensors({
    a: { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    b: { dtype: 'BF16', shape: [4], data: [1, -1, 0.5, 2] },
    c: { dtype: 'I32', shape: [2], data: [7, -8] },
  });
}

const DATA40 = new Uint8Array(40).fill(0x3f);

/** Writes model.safetensors with the given header text (and 40 data bytes unless given). */
function headerCase(kind: string, label: string, header: string, says: RegExp, data: Uint8Array = DATA40, headerLen?: bigint): FuzzCase {
  return { kind, label, names: F, says, make: (dir) => writeFileSync(path.join(dir, F), rawSafetensors(header, data, headerLen)) };
}

/** Header text of the valid layout with one entry's JSON replaced. */
function withEntry(entries: Record<string, string>): string {
  const base: Record<string, string> = {
    a: '{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}',
    b: '{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}',
    c: '{"dtype":"I32","shape":[2],"data_offsets":[32,40]}',
  };
  const all = { ...base, ...entries };
  return '{' + Object.entries(all).filter(([, v]) => v !== '').map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',') + '}';
}

function bytesWith(buf: Buffer, at: number, bytes: number[]): Buffer {
  const out = Buffer.from(buf);
  bytes.forEach((b, i) => (out[at + i] = b));
  return out;
}

const cfg = JSON.stringify({ model_type: 'olmoe', hidden_size: 8 });

export function fuzzCases(): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const add = (c: FuzzCase) => cases.push(c);
  const valid = validFile();

  // 1. Truncation at many points: inside the length, inside the header, inside the data.
  const cuts = new Set<number>();
  for (let i = 0; i < valid.length; i += i < 16 ? 1 : 7) {
    cuts.add(i);
  }
  cuts.add(valid.length - 1);
  for (const cut of [...cuts].sort((x, y) => x - y)) {
    add({
      kind: 'truncated file',
      label: `cut at ${cut} of ${valid.length}`,
      names: F,
      says: /shorter than the 8-byte|runs past the end of the file|run past the end of the data|truncated/,
      make: (dir) => writeFileSync(path.join(dir, F), valid.subarray(0, cut)),
    });
  }

  // 2. Header length past the end of the file (but under the 100 MB cap).
  for (const extra of [1n, 2n, 40n, 41n, 1000n, 99_999_000n]) {
    const hdr = withEntry({});
    add(headerCase('header length past the file', `+${extra}`, hdr, /runs past the end of the file/, DATA40, BigInt(Buffer.byteLength(hdr)) + 40n + extra));
  }

  // 3. Header length over the 100 MB cap (must not be allocated).
  for (const len of [100_000_001n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    add(headerCase('header length over 100 MB', `${len}`, withEntry({}), /exceeds the 100 MB limit/, DATA40, len));
  }

  // 4. Header length too small for a JSON object, or cutting it short.
  for (const len of [0n, 1n, 2n, 5n, 30n]) {
    add(headerCase('header length too short', `${len}`, withEntry({}), /too short|not valid JSON/, DATA40, len));
  }

  // 5. Not JSON at all.
  const notJson = ['{abc}', "{'a':1}", '{"a":}', '{"a":1,}', '{"a":NaN}', '{"a":Infinity}', '{"a":01}', '{"a":1} x', '{"a":"\u0001"}', '{"a":"\\x41"}', '{"a" 1}', '{"a":[1,2}', '{"a":tru}', '{"a":"unterminated}', '{"a":-}', '{"a":1.}'];
  notJson.forEach((h, i) => add(headerCase('header not JSON', `#${i} ${h}`, h, /header is not valid JSON/)));

  // 6. JSON but not an object.
  for (const h of ['[]', '[{"a":1}]', '"str"', '123', 'null', 'true', '  {}']) {
    add(headerCase('header not an object', h, h, /does not start with '\{'|not a JSON object/));
  }

  // 7. Invalid UTF-8 in the header.
  const utf8Bad: [string, number[]][] = [
    ['0xff', [0xff]],
    ['0xfe', [0xfe]],
    ['lone continuation', [0x80]],
    ['overlong slash', [0xc0, 0xaf]],
    ['surrogate half', [0xed, 0xa0, 0x80]],
    ['cut 3-byte', [0xe2, 0x82]],
    ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['5-byte lead', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ];
  for (const [label, bad] of utf8Bad) {
    const hdr = Buffer.from(withEntry({ a: '{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}' }).replace('"a"', '"a_____"'));
    const file = rawSafetensors(hdr.toString('latin1'), DATA40);
    const patched = bytesWith(file, 8 + 2, bad);
    add({ kind: 'header invalid UTF-8', label, names: F, says: /not valid UTF-8/, make: (dir) => writeFileSync(path.join(dir, F), patched) });
  }

  // 8. Duplicate keys (JSON.parse would silently keep the last).
  const dupes = [
    '{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a":{"dtype":"F32","shape":[4],"data_offsets":[24,40]}}',
    '{"a":{"dtype":"F32","shape":[10],"data_offsets":[0,40]},"\\u0061":{"dtype":"F32","shape":[10],"data_offsets":[0,40]}}',
    '{"__metadata__":{},"__metadata__":{},"a":{"dtype":"F32","shape":[10],"data_offsets":[0,40]}}',
    '{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[10],"data_offsets":[0,40]}}',
    '{"a":{"dtype":"F32","dtype":"F16","shape":[10],"data_offsets":[0,40]}}',
    '{"a":{"dtype":"F32","shape":[10],"shape":[10],"data_offsets":[0,40]}}',
    '{"a":{"dtype":"F32","shape":[10],"data_offsets":[0,40],"data_offsets":[0,40]}}',
    withEntry({}).replace(/\}$/, ',"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}}'),
  ];
  dupes.forEach((h, i) => add(headerCase('duplicate keys', `#${i}`, h, /duplicate key/)));

  // 9. Unknown or mistyped dtype.
  for (const d of ['"F128"', '"float32"', '"bf16"', '""', '"F32 "', '123', 'null', '["F32"]', '"Q4_K"', '"C64"']) {
    add(headerCase('unknown dtype', d, withEntry({ c: `{"dtype":${d},"shape":[2],"data_offsets":[32,40]}` }), /unknown dtype|"dtype" is/));
  }

  // 10. shape × dtype ≠ byte length.
  const mism: [string, string][] = [
    ['"F32","shape":[3]', '[32,40]'],
    ['"F32","shape":[1]', '[32,40]'],
    ['"F64","shape":[2]', '[32,40]'],
    ['"BF16","shape":[2]', '[32,40]'],
    ['"F16","shape":[5]', '[32,40]'],
    ['"I8","shape":[2]', '[32,40]'],
    ['"I32","shape":[2,2]', '[32,40]'],
    ['"I32","shape":[0]', '[32,40]'],
    ['"I32","shape":[]', '[32,40]'],
    ['"U64","shape":[2]', '[32,40]'],
  ];
  for (const [ds, offs] of mism) {
    add(headerCase('shape × dtype ≠ bytes', ds, withEntry({ c: `{"dtype":${ds},"data_offsets":${offs}}` }), /bytes but "data_offsets"/));
  }

  // 11. Overlapping offsets.
  const overlap: Record<string, string>[] = [
    { a: '{"dtype":"F32","shape":[6],"data_offsets":[0,24]}', b: '{"dtype":"BF16","shape":[4],"data_offsets":[20,28]}', c: '{"dtype":"I32","shape":[3],"data_offsets":[28,40]}' },
    { b: '{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}', c: '{"dtype":"I32","shape":[4],"data_offsets":[24,40]}' },
    { c: '{"dtype":"I32","shape":[2],"data_offsets":[24,32]}', b: '{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}' },
    { a: '{"dtype":"F32","shape":[10],"data_offsets":[0,40]}' },
    { b: '{"dtype":"BF16","shape":[8],"data_offsets":[24,40]}' },
    { a: '{"dtype":"F32","shape":[7],"data_offsets":[0,28]}', b: '{"dtype":"BF16","shape":[2],"data_offsets":[24,28]}' },
    { c: '{"dtype":"I32","shape":[4],"data_offsets":[24,40]}', b: '{"dtype":"BF16","shape":[0],"data_offsets":[32,32]}' },
    { a: '{"dtype":"F32","shape":[6],"data_offsets":[4,28]}' },
    { b: '{"dtype":"BF16","shape":[6],"data_offsets":[20,32]}' },
    { c: '{"dtype":"I32","shape":[3],"data_offsets":[28,40]}' },
  ];
  overlap.forEach((e, i) => add(headerCase('overlapping offsets', `#${i}`, withEntry(e), /overlap|gap|trailing/)));

  // 12. Gaps between tensors (or before the first).
  const gaps: Record<string, string>[] = [
    { a: '{"dtype":"F32","shape":[5],"data_offsets":[4,24]}' },
    { a: '{"dtype":"F32","shape":[5],"data_offsets":[0,20]}' },
    { b: '{"dtype":"BF16","shape":[2],"data_offsets":[28,32]}' },
    { b: '{"dtype":"BF16","shape":[2],"data_offsets":[24,28]}' },
    { c: '{"dtype":"I32","shape":[1],"data_offsets":[36,40]}' },
    { a: '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}', b: '{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}' },
    { a: '{"dtype":"F32","shape":[2],"data_offsets":[16,24]}' },
    { b: '{"dtype":"I8","shape":[1],"data_offsets":[31,32]}' },
    { c: '{"dtype":"U8","shape":[1],"data_offsets":[39,40]}' },
    { a: '{"dtype":"F64","shape":[2],"data_offsets":[8,24]}' },
  ];
  gaps.forEach((e, i) => add(headerCase('gapped offsets', `#${i}`, withEntry(e), /gap of \d+ bytes/)));

  // 13. Offsets past the end of the data.
  const beyond: Record<string, string>[] = [
    { c: '{"dtype":"I32","shape":[2],"data_offsets":[40,48]}' },
    { c: '{"dtype":"I32","shape":[3],"data_offsets":[32,44]}' },
    { c: '{"dtype":"I32","shape":[1000],"data_offsets":[32,4032]}' },
    { c: '{"dtype":"U8","shape":[4294967296],"data_offsets":[32,4294967328]}' },
    { c: '{"dtype":"F32","shape":[1000000000000],"data_offsets":[32,4000000000032]}' },
    { d: '{"dtype":"I32","shape":[2],"data_offsets":[40,48]}' },
    { d: '{"dtype":"U8","shape":[1],"data_offsets":[40,41]}' },
    { d: '{"dtype":"BF16","shape":[100,100],"data_offsets":[40,20040]}' },
    { c: '{"dtype":"I32","shape":[2],"data_offsets":[1000000,1000008]}' },
    { c: '{"dtype":"I32","shape":[2],"data_offsets":[9007199254740983,9007199254740991]}' },
  ];
  beyond.forEach((e, i) => add(headerCase('offsets out of range', `#${i}`, withEntry(e), /run past the end of the data/)));

  // 14. Offsets at or past 2^53 (JSON.parse would round them), or not integers.
  for (const o of ['9007199254740992', '9007199254740993', '18446744073709551615', '18446744073709551616', '99999999999999999999999999']) {
    add(headerCase('offsets past 2^53', o, withEntry({ c: `{"dtype":"I32","shape":[2],"data_offsets":[32,${o}]}` }), /offset past 2\^53/));
    add(headerCase('offsets past 2^53', `begin ${o}`, withEntry({ c: `{"dtype":"I32","shape":[2],"data_offsets":[${o},40]}` }), /offset past 2\^53/));
  }

  // 15. Malformed data_offsets.
  for (const o of ['[32]', '[32,40,48]', '[]', '"32,40"', '{"0":32,"1":40}', '[32.0,40]', '[32,4e1]', '[-8,40]', '[32,-40]', '["32","40"]', '[null,40]', '[40,32]']) {
    add(headerCase('malformed data_offsets', o, withEntry({ c: `{"dtype":"I32","shape":[2],"data_offsets":${o}}` }), /"data_offsets"/));
  }

  // 16. Negative shapes.
  for (const s of ['[-2]', '[-1,-2]', '[2,-1]', '[-1,2]', '[-9007199254740993]', '[1,1,-1]', '[-2,1]', '[-4,-1]']) {
    add(headerCase('negative shape', s, withEntry({ c: `{"dtype":"I32","shape":${s},"data_offsets":[32,40]}` }), /negative dimension/));
  }

  // 17. Fractional or non-numeric shapes.
  for (const s of ['[1.5]', '[2.0]', '[2e0]', '[0.5,4]', '["2"]', '[null]', '[true]', '[[2]]', '[2,1e-1]', '[{}]']) {
    add(headerCase('non-integer shape', s, withEntry({ c: `{"dtype":"I32","shape":${s},"data_offsets":[32,40]}` }), /dimensions must be non-negative integers/));
  }

  // 18. Sizes past 2^53 (a product that JS numbers would round).
  for (const s of ['[9007199254740993]', '[4294967296,4294967296]', '[3037000500,3037000500]', '[1099511627776,8192]', '[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]', '[18446744073709551616]']) {
    add(headerCase('size past 2^53', s, withEntry({ c: `{"dtype":"F64","shape":${s},"data_offsets":[32,40]}` }), /past 2\^53|more than 32|bytes but/));
  }

  // 19. Missing fields, or an entry that is not an object.
  for (const [label, e] of [
    ['no dtype', '{"shape":[2],"data_offsets":[32,40]}'],
    ['no shape', '{"dtype":"I32","data_offsets":[32,40]}'],
    ['no offsets', '{"dtype":"I32","shape":[2]}'],
    ['empty', '{}'],
    ['array', '[]'],
    ['string', '"I32"'],
    ['number', '5'],
    ['null', 'null'],
    ['shape string', '{"dtype":"I32","shape":"2","data_offsets":[32,40]}'],
    ['shape object', '{"dtype":"I32","shape":{"0":2},"data_offsets":[32,40]}'],
  ] as const) {
    add(headerCase('malformed tensor entry', label, withEntry({ c: e }), /missing "|is .*not an|not an object|not an array|"dtype" is|not \[begin, end\]/));
  }

  // 20. Trailing bytes after the last tensor.
  for (const extra of [1, 2, 7, 8, 100, 4096]) {
    const data = new Uint8Array(40 + extra);
    add(headerCase('trailing bytes', `+${extra}`, withEntry({}), /trailing bytes/, data));
  }

  // 21. Bad __metadata__.
  for (const m of ['[]', '"x"', '5', 'null', '{"k":5}', '{"k":null}', '{"k":{"n":"v"}}', '{"k":["v"]}', '{"a":"ok","b":true}', 'true']) {
    add(headerCase('bad __metadata__', m, withEntry({}).replace('{', `{"__metadata__":${m},`), /__metadata__/));
  }

  // 22. Empty tensor name, and JSON nested deeper than a header can be.
  add(headerCase('bad names or nesting', 'empty name', withEntry({ '': '{"dtype":"U8","shape":[0],"data_offsets":[40,40]}' }), /empty name/));
  for (const depth of [9, 20, 100, 10000]) {
    add(headerCase('bad names or nesting', `depth ${depth}`, `{"x":${'['.repeat(depth)}${']'.repeat(depth)}}`, /nested deeper/));
  }

  // 23. Index points at a shard that is not there.
  const idx = (wm: Record<string, string>, extra = '') => `{"metadata":{"total_size":40}${extra},"weight_map":${JSON.stringify(wm)}}`;
  const shard1 = 'model-00001-of-00002.safetensors';
  const shard2 = 'model-00002-of-00002.safetensors';
  const writeShards = (dir: string) => {
    writeSafetensors(path.join(dir, shard1), { a: { dtype: 'F32', shape: [2], data: [1, 2] } });
    writeSafetensors(path.join(dir, shard2), { b: { dtype: 'BF16', shape: [2], data: [3, 4] } });
  };
  for (const [label, missing] of [
    ['second shard', shard2],
    ['typo', 'model-00002-of-00003.safetensors'],
    ['case', 'MODEL-00002-of-00002.safetensors'],
    ['leading space', ' ' + shard2],
    ['other name', 'weights.safetensors'],
  ] as const) {
    add({
      kind: 'missing shard',
      label,
      names: 'model.safetensors.index.json',
      says: /not found/,
      make: (dir) => {
        writeSafetensors(path.join(dir, shard1), { a: { dtype: 'F32', shape: [2], data: [1, 2] } });
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), idx({ a: shard1, b: missing }));
      },
    });
  }

  // 24. Shard paths that leave the folder.
  for (const [label, p] of [
    ['parent', '../outside.safetensors'],
    ['deep parent', '../../../../../../etc/passwd.safetensors'],
    ['absolute', '/tmp/outside.safetensors'],
    ['subfolder', 'sub/model.safetensors'],
    ['backslash', '..\\outside.safetensors'],
    ['windows absolute', 'C:\\models\\x.safetensors'],
    ['dot', '.'],
    ['dotdot', '..'],
    ['NUL', 'model\u0000.safetensors'],
    ['empty', ''],
  ] as const) {
    add({
      kind: 'shard path escaping the folder',
      label,
      names: 'model.safetensors.index.json',
      says: /shard path .* (is absolute|is not a plain file name|contains a NUL|is empty)|is not a \.safetensors file/,
      make: (dir) => {
        writeShards(dir);
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), idx({ a: shard1, b: p }));
      },
    });
  }
  for (const [label, target] of [
    ['symlink to parent folder', '../outside.safetensors'],
    ['symlink to the parent folder itself', 'dir'],
  ] as const) {
    add({
      kind: 'shard symlink escaping the folder',
      label,
      names: 'model.safetensors.index.json',
      says: /is a link to .*outside the model folder/,
      make: (dir) => {
        writeSafetensors(path.join(dir, shard1), { a: { dtype: 'F32', shape: [2], data: [1, 2] } });
        const outside = path.join(path.dirname(dir), `outside-${path.basename(dir)}.safetensors`);
        writeSafetensors(outside, { b: { dtype: 'BF16', shape: [2], data: [3, 4] } });
        symlinkSync(target === 'dir' ? path.dirname(dir) : outside, path.join(dir, shard2));
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), idx({ a: shard1, b: shard2 }));
      },
    });
  }
  add({
    kind: 'shard symlink escaping the folder',
    label: 'single model.safetensors linked outside',
    names: F,
    says: /is a link to .*outside the model folder/,
    make: (dir) => {
      const outside = path.join(path.dirname(dir), `outside-single-${path.basename(dir)}.safetensors`);
      writeFileSync(outside, validFile());
      symlinkSync(outside, path.join(dir, F));
    },
  });

  // 25. Index lists a tensor its shard does not hold.
  for (const [label, wm] of [
    ['wrong shard', { a: shard2, b: shard2 }],
    ['unknown tensor', { a: shard1, b: shard2, ghost: shard1 }],
    ['swapped', { a: shard2, b: shard1 }],
    ['renamed', { 'model.a': shard1, b: shard2 }],
    ['case', { A: shard1, b: shard2 }],
  ] as const) {
    add({
      kind: 'index points at a missing tensor',
      label,
      names: 'model.safetensors.index.json',
      says: /is listed in shard .* but that shard has no such tensor/,
      make: (dir) => {
        writeShards(dir);
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), idx(wm as Record<string, string>));
      },
    });
  }

  // 26. A malformed index file.
  for (const [label, text, says] of [
    ['not JSON', '{"weight_map":', /not valid JSON/],
    ['array', '[]', /must be a JSON object/],
    ['no weight_map', '{"metadata":{}}', /"weight_map" is missing/],
    ['weight_map array', '{"weight_map":[]}', /"weight_map" is not an object/],
    ['weight_map string', '{"weight_map":"x"}', /"weight_map" is not an object/],
    ['shard not a string', `{"weight_map":{"a":1,"b":"${shard2}"}}`, /shard is not a file name string/],
    ['empty weight_map', '{"weight_map":{}}', /lists no tensors/],
    ['duplicate tensor', `{"weight_map":{"a":"${shard1}","a":"${shard2}"}}`, /duplicate key/],
    ['metadata not object', `{"metadata":5,"weight_map":{"a":"${shard1}"}}`, /"metadata" must be an object/],
    ['pickle shard', '{"weight_map":{"a":"pytorch_model-00001-of-00002.bin"}}', /not a \.safetensors file \(pickle/],
    ['invalid UTF-8', '\u00ff', /not valid UTF-8/],
  ] as const) {
    add({
      kind: 'malformed index file',
      label,
      names: 'model.safetensors.index.json',
      says,
      make: (dir) => {
        writeShards(dir);
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), label === 'invalid UTF-8' ? Buffer.from([0x7b, 0xff, 0x7d]) : text);
      },
    });
  }

  // 27. A damaged shard behind a valid index.
  for (const [label, bytes] of [
    ['truncated', valid.subarray(0, 50)],
    ['empty', Buffer.alloc(0)],
    ['garbage', Buffer.from('this is not a safetensors file at all')],
    ['trailing', Buffer.concat([valid, Buffer.alloc(3)])],
  ] as const) {
    add({
      kind: 'damaged shard behind an index',
      label,
      names: shard2,
      says: /shorter than|past the end|trailing|exceeds the 100 MB|not valid|does not start/,
      make: (dir) => {
        writeSafetensors(path.join(dir, shard1), { x: { dtype: 'F32', shape: [2], data: [1, 2] } });
        writeFileSync(path.join(dir, shard2), bytes);
        writeFileSync(path.join(dir, 'model.safetensors.index.json'), idx({ x: shard1, a: shard2 }));
      },
    });
  }

  // 28. NaN / Inf weights (found when read with checkFinite).
  const nonFinite: [string, 'F32' | 'BF16' | 'F16' | 'F64', number[]][] = [
    ['F32 NaN first', 'F32', [NaN, 1, 2, 3]],
    ['F32 NaN last', 'F32', [0, 1, 2, NaN]],
    ['F32 +Inf', 'F32', [0, Infinity, 2, 3]],
    ['F32 -Inf', 'F32', [0, 1, -Infinity, 3]],
    ['BF16 NaN', 'BF16', [0, 1, NaN, 3]],
    ['BF16 Inf', 'BF16', [Infinity, 1, 2, 3]],
    ['BF16 overflow to Inf', 'BF16', [0, 1, 2, 3.5e38]],
    ['F16 NaN', 'F16', [0, NaN, 2, 3]],
    ['F16 overflow to Inf', 'F16', [0, 1, 70000, 3]],
    ['F16 -Inf', 'F16', [0, 1, 2, -Infinity]],
    ['F64 overflow to Inf in float32', 'F64', [0, 1e300, 2, 3]],
    ['many NaN', 'F32', [NaN, NaN, NaN, NaN]],
  ];
  for (const [label, dtype, data] of nonFinite) {
    add({
      kind: 'non-finite weights',
      label,
      entry: 'read',
      names: F,
      says: /tensor "w": holds \d+ non-finite value/,
      make: (dir) => writeSafetensors(path.join(dir, F), { ok: { dtype: 'F32', shape: [2], data: [1, 2] }, w: { dtype, shape: [2, 2], data } }),
    });
  }

  // 29. Pickle checkpoints: refused with an explanation, never unpickled (the bytes are not even read).
  const pickleHead = Buffer.from([0x80, 0x02, 0x63, 0x6f, 0x73, 0x0a, 0x73, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x0a]); // "cos\nsystem\n"
  for (const names of [['pytorch_model.bin'], ['model.pt'], ['model.pth'], ['model.ckpt'], ['weights.pkl'], ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin', 'pytorch_model.bin.index.json'], ['consolidated.00.pth']]) {
    for (const entry of ['open', 'config'] as const) {
      add({
        kind: 'pickle checkpoint',
        label: `${names[0]} via ${entry}`,
        entry,
        names: names[0],
        says: /only PyTorch pickle weights found .*never loads pickle/,
        make: (dir) => {
          writeFileSync(path.join(dir, 'config.json'), cfg);
          for (const n of names) {
            writeFileSync(path.join(dir, n), pickleHead);
          }
        },
      });
    }
  }

  // 30. config.json missing or not an object.
  for (const [label, content, says] of [
    ['missing', null, /config\.json not found/],
    ['not JSON', '{model_type: olmoe}', /config\.json is not valid JSON/],
    ['empty', '', /config\.json is not valid JSON/],
    ['array', '[{"model_type":"olmoe"}]', /must be a JSON object, found an array/],
    ['null', 'null', /must be a JSON object, found null/],
    ['string', '"olmoe"', /must be a JSON object, found string/],
    ['number', '42', /must be a JSON object, found number/],
    ['duplicate key', '{"model_type":"olmoe","model_type":"mixtral"}', /duplicate key "model_type"/],
    ['invalid UTF-8', '\u00ff', /not valid UTF-8/],
    ['trailing garbage', '{"model_type":"olmoe"} }', /not valid JSON/],
  ] as const) {
    add({
      kind: 'bad config.json',
      label,
      entry: 'config',
      names: 'config.json',
      says,
      make: (dir) => {
        writeFileSync(path.join(dir, F), validFile());
        if (content !== null) {
          writeFileSync(path.join(dir, 'config.json'), label === 'invalid UTF-8' ? Buffer.from([0x7b, 0xff, 0x7d]) : content);
        }
      },
    });
  }

  // 31. Folders with no usable weights.
  add({ kind: 'no weights', label: 'empty folder', names: '', says: /no weights found/, make: () => undefined });
  add({ kind: 'no weights', label: 'only config', names: '', says: /no weights found/, make: (dir) => writeFileSync(path.join(dir, 'config.json'), cfg) });
  add({ kind: 'no weights', label: 'model.safetensors is a folder', names: F, says: /not a regular file/, make: (dir) => mkdirSync(path.join(dir, F)) });
  add({
    kind: 'no weights',
    label: 'tensor in two files, no index',
    names: 'b.safetensors',
    says: /also present in .*ambiguous/,
    make: (dir) => {
      writeSafetensors(path.join(dir, 'a.safetensors'), { w: { dtype: 'F32', shape: [1], data: [1] } });
      writeSafetensors(path.join(dir, 'b.safetensors'), { w: { dtype: 'F32', shape: [1], data: [2] } });
    },
  });

  return cases;
}
