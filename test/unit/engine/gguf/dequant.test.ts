/**
 * @file Dequantisation bit-exact against llama.cpp's reference (gguf-py quants.py run with numpy by
 * tools/gguf/make_dequant_goldens.py): for every type MoE Lens reads, the golden random blocks give
 * exactly the golden float32 bits, both through `dequantize` and read from a GGUF file (whole
 * tensor, and a range that starts and ends inside a block); the writer's Q8_0 and Q4_0 quantisers
 * give the reference's blocks byte for byte.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { dequantize } from '../../../../src/engine/checkpoint/gguf/dequant/index';
import { openGgufCheckpoint } from '../../../../src/engine/checkpoint/gguf/open';
import { ggmlType, isBlockType, type GgmlTypeName } from '../../../../src/engine/checkpoint/gguf/types';
import { quantize } from '../../../../tools/gguf/quantize';
import { writeGguf } from '../../../../tools/gguf/writer';

const GOLDEN = path.join(__dirname, '..', '..', '..', 'fixtures', 'gguf', 'dequant_goldens.json');
/** The list, and IQ4_NL/IQ4_XS (cheap: a 16-entry table; llama.cpp's fallback for rows that are not whole k-quant blocks). */
const EXPECTED: GgmlTypeName[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'MXFP4', 'IQ4_NL', 'IQ4_XS'];

interface Golden {
  types: Record<string, { blocks: string; values: string }>;
  quantize: Record<string, { blocks: string; values: string }>;
}

const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
const root = mkdtempSync(path.join(os.tmpdir(), 'moe-lens-gguf-dq-'));
after(() => rmSync(root, { recursive: true, force: true }));

function decode(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/** The float32 values as bits, so -0 vs 0 and every last ulp count. */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** First index where the bits differ, with both values, or null. */
function firstDifference(got: Float32Array, want: Float32Array): string | null {
  if (got.length !== want.length) {
    return `length ${got.length} vs ${want.length}`;
  }
  const g = bits(got);
  const w = bits(want);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) {
      return `value ${i}: got ${got[i]} (0x${g[i].toString(16)}), reference ${want[i]} (0x${w[i].toString(16)})`;
    }
  }
  return null;
}

describe('GGUF dequantisation matches llama.cpp bit for bit', () => {
  test('the goldens cover every type MoE Lens reads', () => {
    assert.deepEqual(Object.keys(golden.types).sort(), [...EXPECTED].sort());
  });

  for (const type of EXPECTED) {
    test(type, async () => {
      const g = golden.types[type];
      const raw = decode(g.blocks);
      const want = new Float32Array(decode(g.values).slice().buffer);
      if (isBlockType(type)) {
        assert.equal(firstDifference(dequantize(type, raw), want), null);
      }
      // Through a file: a [rows, blockSize·k] tensor read whole and by an unaligned range.
      const t = ggmlType(type);
      const cols = t.blockSize === 1 ? 16 : t.blockSize;
      const file = path.join(root, `${type}.gguf`);
      writeGguf(file, {}, [{ name: 'w', type, shape: [want.length / cols, cols], raw }]);
      const ck = await openGgufCheckpoint(file);
      try {
        assert.equal(firstDifference(await ck.readFloat32('w'), want), null);
        const from = Math.floor(cols / 2) + 3;
        const count = want.length - from - 5;
        assert.equal(firstDifference(await ck.readFloat32('w', { range: { from, count } }), want.slice(from, from + count)), null);
      } finally {
        await ck.close();
      }
    });
  }

  for (const type of ['Q8_0', 'Q4_0'] as const) {
    test(`the test writer's ${type} quantiser gives llama.cpp's blocks byte for byte`, () => {
      const g = golden.quantize[type];
      const values = new Float32Array(decode(g.values).slice().buffer);
      assert.deepEqual(Buffer.from(quantize(type, values)), Buffer.from(decode(g.blocks)));
    });
  }
});
