#!/usr/bin/env python3
"""Golden blocks for MoE Lens's GGUF dequantisers: random raw blocks of each type MoE Lens reads,
dequantised by llama.cpp's own reference (gguf-py/gguf/quants.py, numpy), and random float32 values
quantised to Q8_0 and Q4_0 by the reference quantisers, written to
test/fixtures/gguf/dequant_goldens.json. test/unit/engine/gguf/dequant.test.ts compares bit for bit.

llama.cpp's code is not part of this repository: pass its quants.py (from a llama.cpp checkout, or
the `gguf` Python package's gguf/quants.py). It is loaded beside a small stand-in for its
constants.py and lazy.py (the block sizes below, no lazy tensors), so nothing else of llama.cpp is
needed. Not a test dependency: the goldens are committed.

    python3 tools/gguf/make_dequant_goldens.py --quants /path/to/llama.cpp/gguf-py/gguf/quants.py

Scales: half the blocks get random finite f16 scales of any magnitude (subnormals, negatives,
up to 65504), half "sane" positive ones as real files have; every quant bit is random. NaN and
infinite scales are left out (the loader refuses such weights by name, and NaN payloads differ).
"""
import argparse
import base64
import enum
import importlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np

QK_K = 256

# (ggml type id, values per block, bytes per block, f16 scale offsets in a block)
TYPES = {
    'F32': (0, 1, 4, []),
    'F16': (1, 1, 2, []),
    'BF16': (30, 1, 2, []),
    'Q4_0': (2, 32, 18, [0]),
    'Q4_1': (3, 32, 20, [0, 2]),
    'Q5_0': (6, 32, 22, [0]),
    'Q5_1': (7, 32, 24, [0, 2]),
    'Q8_0': (8, 32, 34, [0]),
    'Q2_K': (10, 256, 84, [80, 82]),
    'Q3_K': (11, 256, 110, [108]),
    'Q4_K': (12, 256, 144, [0, 2]),
    'Q5_K': (13, 256, 176, [0, 2]),
    'Q6_K': (14, 256, 210, [208]),
    'MXFP4': (39, 32, 17, []),
    'IQ4_NL': (20, 32, 18, [0]),
    'IQ4_XS': (23, 256, 136, [0]),
}
BLOCKS = {'F32': 64, 'F16': 64, 'BF16': 64}  # elements for the plain types; blocks otherwise
QUANT_BLOCKS_SMALL = 8
QUANT_BLOCKS_K = 3

CONSTANTS_STUB = '''
import enum
QK_K = 256
class GGMLQuantizationType(enum.IntEnum):
{members}
class _Sizes(dict):
    def __missing__(self, key):
        return (1, 1)
GGML_QUANT_SIZES = _Sizes({{{sizes}}})
'''

LAZY_STUB = '''
class LazyNumpyTensor:
    @staticmethod
    def _wrap_fn(fn, **kwargs):
        return fn
'''

# Every type name quants.py may define a class for: unknown ones only need to exist.
ALL_NAMES = ['F32', 'F16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q8_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_K',
             'IQ2_XXS', 'IQ2_XS', 'IQ3_XXS', 'IQ1_S', 'IQ4_NL', 'IQ3_S', 'IQ2_S', 'IQ4_XS', 'I8', 'I16', 'I32', 'I64', 'F64',
             'IQ1_M', 'BF16', 'TQ1_0', 'TQ2_0', 'MXFP4', 'NVFP4', 'Q1_0', 'Q2_0']


def load_reference(quants_path):
    """Imports quants.py as package gguf_ref with stand-in constants and lazy modules."""
    tmp = tempfile.mkdtemp(prefix='gguf-ref-')
    pkg = os.path.join(tmp, 'gguf_ref')
    os.mkdir(pkg)
    open(os.path.join(pkg, '__init__.py'), 'w').close()
    members = '\n'.join(f'    {n} = {TYPES[n][0] if n in TYPES else 1000 + i}' for i, n in enumerate(ALL_NAMES))
    sizes = ', '.join(f'GGMLQuantizationType.{n}: ({v[1]}, {v[2]})' for n, v in TYPES.items())
    with open(os.path.join(pkg, 'constants.py'), 'w') as f:
        f.write(CONSTANTS_STUB.format(members=members, sizes=sizes))
    with open(os.path.join(pkg, 'lazy.py'), 'w') as f:
        f.write(LAZY_STUB)
    shutil.copy(quants_path, os.path.join(pkg, 'quants.py'))
    sys.path.insert(0, tmp)
    return importlib.import_module('gguf_ref.quants')


def finite_halves(rng, n):
    """Random f16 bit patterns with exponent < 31 (finite), any sign, subnormals included."""
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    exp = (h >> 10) & 0x1F
    return np.where(exp == 0x1F, h & 0x83FF, h).astype(np.uint16)


def sane_halves(rng, n):
    return (rng.uniform(0.001, 0.05, size=n)).astype(np.float16).view(np.uint16)


def make_blocks(rng, name):
    type_id, block, size, scales = TYPES[name]
    if name == 'F32':
        bits = rng.integers(0, 1 << 32, size=BLOCKS[name], dtype=np.uint64).astype(np.uint32)
        bits = np.where(((bits >> 23) & 0xFF) == 0xFF, bits & 0x807FFFFF, bits).astype(np.uint32)
        return bits.view(np.uint8)
    if name == 'F16':
        return finite_halves(rng, BLOCKS[name]).view(np.uint8)
    if name == 'BF16':
        b = rng.integers(0, 1 << 16, size=BLOCKS[name], dtype=np.uint32).astype(np.uint16)
        b = np.where(((b >> 7) & 0xFF) == 0xFF, b & 0x807F, b).astype(np.uint16)
        return b.view(np.uint8)
    n = QUANT_BLOCKS_K if block == QK_K else QUANT_BLOCKS_SMALL
    raw = rng.integers(0, 256, size=(n, size), dtype=np.uint16).astype(np.uint8)
    for i in range(n):
        halves = finite_halves(rng, len(scales)) if i % 2 == 0 else sane_halves(rng, len(scales))
        for off, h in zip(scales, halves):
            raw[i, off:off + 2] = np.array([h], dtype=np.uint16).view(np.uint8)
    if name == 'MXFP4':
        raw[:, 0] = np.array([0, 1, 2, 127, 254, 255, 120, 133], dtype=np.uint8)[:n]
    return raw.reshape(-1)


def dequantize(ref, name, raw):
    if name == 'F32':
        return raw.view(np.float32)
    if name == 'F16':
        return raw.view(np.float16).astype(np.float32)
    _, block, size, _ = TYPES[name]
    cls = getattr(ref, name)
    return cls.dequantize_blocks(raw.reshape((-1, size))).reshape(-1).astype(np.float32, copy=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quants', required=True, help="llama.cpp's gguf-py/gguf/quants.py")
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'gguf', 'dequant_goldens.json'))
    ap.add_argument('--seed', type=int, default=15)
    args = ap.parse_args()
    ref = load_reference(args.quants)
    rng = np.random.default_rng(args.seed)
    out = {'generator': 'tools/gguf/make_dequant_goldens.py (llama.cpp gguf-py quants.py, numpy %s)' % np.__version__, 'seed': args.seed, 'types': {}}
    for name in TYPES:
        raw = np.ascontiguousarray(make_blocks(rng, name))
        values = np.ascontiguousarray(dequantize(ref, name, raw), dtype='<f4')
        assert not np.any(np.isnan(values)), name  # MXFP4 exponent 255 overflows to ±inf, bit-comparable
        out['types'][name] = {
            'blocks': base64.b64encode(raw.tobytes()).decode(),
            'values': base64.b64encode(values.tobytes()).decode(),
        }
        print(f'{name}: {raw.size} bytes -> {values.size} values')
    out['quantize'] = {}
    for name in ('Q8_0', 'Q4_0'):
        values = (rng.standard_normal(size=(16, 32)) * 0.05).astype(np.float32)
        values[0, :] = 0  # an all-zero block: d = 0
        values[1, 5] = values[1, 9] = -values[1].__abs__().max() * 2  # two equal largest magnitudes
        blocks = getattr(ref, name).quantize_blocks(values)
        out['quantize'][name] = {
            'values': base64.b64encode(values.astype('<f4').tobytes()).decode(),
            'blocks': base64.b64encode(np.ascontiguousarray(blocks).tobytes()).decode(),
        }
        print(f'quantize {name}: {values.size} values')
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print('wrote', os.path.abspath(args.out))


if __name__ == '__main__':
    main()
