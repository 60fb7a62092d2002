/**
 * @file A seeded corpus of adversarial documents for the tokenizer: the text VS Code hands us (CRLF,
 * tabs, lone surrogates, ZWJ/ZWNJ, combining marks, variation selectors, flags, RTL, CJK, astral
 * planes, special-token strings, long lines), mixed code and prose, and random Unicode.
 */

import { RUST_REGEX_LOWERCASE, RUST_REGEX_UNASSIGNED_RANGES } from '../../../src/engine/tokenizer/rustUnicode';

/** mulberry32: small, fast, reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const HAND_CASES: string[] = [
  '',
  ' ',
  'Hello, world!',
  'line one\r\nline two\r\n\r\nline four\n',
  '\tindented\twith\ttabs\t\t\n\t\t  mixed   \t',
  'lone high \ud800 and low \udc00 surrogates, reversed \udc00\ud800, at end \ud83d',
  '\ud83d',
  '\udfff\udfff',
  'zero\u200dwidth\u200cjoiners\u200b and \u2060word joiner',
  'e\u0301 vs \u00e9, a\u0308\u0304 stacked, Z\u0351\u0334\u0353a\u0300\u0327l\u035cg\u0300\u0301o\u0362 zalgo',
  'x' + '\u0301'.repeat(80),
  '\u0301 leading combining mark',
  'variation selectors: \u2764\ufe0f \u2764\ufe0e \u{1F3F3}\ufe0f\u200d\u{1F308} \u845b\u{E0100}',
  'flags: \u{1F1EB}\u{1F1F7}\u{1F1E9}\u{1F1EA}\u{1F1EF}\u{1F1F5} odd \u{1F1FA}',
  'family \u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466} skin \u{1F44B}\u{1F3FD} keycap 1\ufe0f\u20e3',
  'RTL: \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u202eevil\u202c \u200f',
  'CJK: \u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\ud55c\uad6d\uc5b4 \u1100\u1161\u11a8',
  'astral: \u{20000}\u{2A6D6} \u{1D400}\u{1D401} \u{10348} \u{1F600}\u{1F64F} \u{E0001}\u{E0041}',
  'special <|endoftext|> <|im_start|>user\nhi<|im_end|> <s> </s> <unk> <\uff5cbegin\u2581of\u2581sentence\uff5c> <|startoftext|> <|return|>',
  '<|endoftext|>',
  '<s>',
  '<think>\nreasoning\n</think>',
  'whitespace zoo: \u00a0\u1680\u2000\u2001\u2002\u2003\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u0085\ufeff\u000b\u000c end',
  '\u2581 metaspace char \u2581\u2581 typed by the user',
  'NEL\u0085here and BOM\ufeffthere',
  'digits 1234567890 \u0661\u0662\u0663 \u0967\u0968 \uff11\uff12 \u2460\u00b2\u00bd',
  "contractions: don't I'm we'll they've she'd you're IT'S",
  '\u212b\u2126 \ufb01\ufb02 \u1e9b\u0323 \u00c5 \u0041\u030a compat and canonical',
  'Hangul: \u1112\u1161\u11ab\u1100\u1173\u11af vs \ud55c\uae00',
  'private use \ue000\uf8ff \u{F0000}\u{10FFFD} nonchars \ufffe\uffff \u{1FFFE}',
  'controls \u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f\u0080\u009f',
  'tab\tand\u000bvt',
  '    def f(x):\n        return x\n\n\n\n',
  'a'.repeat(2000),
  '\u{1F600}'.repeat(300),
  '\u4e2d'.repeat(500),
];

const ch = (c: number): string => String.fromCodePoint(c);

/**
 * Characters newer than Rust tokenizers' regex tables (each differing range's ends) among letters,
 * digits, punctuation and spaces, and the stand-ins the engine swaps them for, typed literally.
 */
export const NEWER_UNICODE_CASES: string[] = [
  ...RUST_REGEX_UNASSIGNED_RANGES.map(([a, b]) => `x${ch(a)}y ${ch(b)}1 ab${ch(a)}${ch(b)}cd .${ch(a)}. Ab${ch(b)}'s ${ch(a)}\n`),
  ...RUST_REGEX_LOWERCASE.map((c) => `a${ch(c)}b ${ch(c)} Z${ch(c)}z ${ch(c)}1`),
  'stand-ins typed by the user: a\uffffb \u{10ffff}x \u0180a a\u0180 \uffff\u{10ffff}\u0180',
];

const WORDS = (
  'the quick brown fox jumps over lazy dog model expert router gate weight token layer attention ' +
  'über naïve façade coöperate résumé Ærøskøbing straße Ωμέγα привет мир 東京 北京 ソフトウェア ' +
  'مرحبا שלום नमस्ते ভাষা தமிழ் ไทย ქართული Հայերեն'
).split(' ');

const CODE = [
  'function f(a, b) {\n  return a + b; // sum\n}\n',
  'const xs = [1, 2, 3].map((x) => x * 2);\r\n',
  'if (a !== b && c >= 0x1F) { throw new Error(`bad ${a}`); }\n',
  'def route(x: Tensor) -> Tensor:\n\t"""Top-k routing."""\n\treturn torch.topk(x, k=2).indices\n',
  '#include <stdio.h>\nint main(void){ printf("%d\\n",42);return 0; }\n',
  'SELECT id, name FROM users WHERE email LIKE \'%@example.com\';\n',
  '<div class="a">\n  <span>&nbsp;&amp;</span>\n</div>\n',
  '{"key": [1, 2.5e-3, true, null], "ünï": "\\u00e9"}\n',
  '    x += 1  # indent with spaces\n\t\ty = x ** 2\n',
  'fn main() { let v: Vec<u8> = vec![0xff; 16]; println!("{:?}", v); }\n',
  '$ npm run build && ./bin/moe-lens --help 2>&1 | tee out.log\n',
  '// TODO(@me): fix    trailing spaces   \n',
  '```ts\nexport const a = 1;\n```\n',
  'https://example.com/path?q=1&r=%20#frag user@mail.org\n',
];

const EMOJI = [
  '\u{1F600}', '\u{1F44D}\u{1F3FB}', '\u{1F468}\u200d\u{1F4BB}', '\u{1F3F3}\ufe0f\u200d\u26a7\ufe0f',
  '\u{1F1EC}\u{1F1E7}', '\u2764\ufe0f', '\u{1F9D1}\u{1F3FE}\u200d\u{1F91D}\u200d\u{1F9D1}\u{1F3FC}', '#\ufe0f\u20e3',
];

/** Weighted code point ranges for random Unicode, astral planes and surrogates included. */
const RANGES: [number, number, number][] = [
  [0x20, 0x7e, 30],
  [0x00, 0x1f, 3],
  [0x80, 0x24f, 6],
  [0x300, 0x36f, 6],
  [0x370, 0x52f, 3],
  [0x590, 0x6ff, 4],
  [0x900, 0xdff, 4],
  [0x1100, 0x11ff, 2],
  [0x1e00, 0x1fff, 2],
  [0x2000, 0x206f, 4],
  [0x20d0, 0x20ff, 1],
  [0x2100, 0x2bff, 2],
  [0x3000, 0x30ff, 3],
  [0x4e00, 0x9fff, 6],
  [0xac00, 0xd7a3, 3],
  [0xd800, 0xdfff, 2],
  [0xe000, 0xf8ff, 1],
  [0xf900, 0xffff, 3],
  [0x10000, 0x1ffff, 4],
  [0x1f300, 0x1faff, 5],
  [0x20000, 0x3134f, 2],
  [0xe0000, 0xe01ef, 1],
  [0xf0000, 0x10ffff, 1],
];
const TOTAL_WEIGHT = RANGES.reduce((n, r) => n + r[2], 0);

function randomCodePoint(rand: () => number): string {
  let w = rand() * TOTAL_WEIGHT;
  for (const [lo, hi, weight] of RANGES) {
    if ((w -= weight) < 0) {
      const cp = lo + Math.floor(rand() * (hi - lo + 1));
      // A surrogate code point becomes a lone UTF-16 unit: exactly what a broken document holds.
      return cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    }
  }
  return 'x';
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

export interface CorpusOptions {
  /** Strings to generate after the hand cases. */
  count: number;
  /** Special-token strings of the tokenizer under test, sprinkled into some documents. */
  specials?: string[];
  /** How many 10,000-character lines to include. */
  longLines?: number;
}

export function generateCorpus(seed: number, opts: CorpusOptions): string[] {
  const rand = prng(seed);
  const out = [...HAND_CASES, ...NEWER_UNICODE_CASES];
  const specials = opts.specials?.length ? opts.specials : ['<|endoftext|>'];
  for (let i = 0; i < opts.count; i++) {
    const kind = i % 6;
    let s = '';
    const len = 1 + Math.floor(rand() * 40);
    if (kind === 0) {
      // Pure random Unicode.
      for (let j = 0; j < len * 3; j++) s += randomCodePoint(rand);
    } else if (kind === 1) {
      // Prose with random insertions.
      for (let j = 0; j < len; j++) {
        s += pick(rand, WORDS);
        const r = rand();
        s += r < 0.6 ? ' ' : r < 0.7 ? '\n' : r < 0.75 ? '\r\n' : r < 0.8 ? ', ' : r < 0.85 ? '\t' : r < 0.9 ? randomCodePoint(rand) : '  ';
      }
    } else if (kind === 2) {
      // Code with prose comments.
      for (let j = 0; j < 1 + (len % 5); j++) s += pick(rand, CODE) + (rand() < 0.3 ? `# ${pick(rand, WORDS)} ${pick(rand, WORDS)}\n` : '');
    } else if (kind === 3) {
      // Emoji, flags, ZWJ and combining sequences glued to words.
      for (let j = 0; j < len; j++) {
        const r = rand();
        s += r < 0.4 ? pick(rand, EMOJI) : r < 0.6 ? pick(rand, WORDS) : r < 0.8 ? 'e\u0301\u0323' : r < 0.9 ? '\u200d' : ' ';
      }
    } else if (kind === 4) {
      // Special-token strings inside text.
      for (let j = 0; j < 1 + (len % 6); j++) {
        s += pick(rand, WORDS) + (rand() < 0.5 ? ' ' : '') + pick(rand, specials) + (rand() < 0.5 ? ' ' : '');
      }
    } else {
      // A mix of everything, whitespace runs included.
      for (let j = 0; j < len; j++) {
        const r = rand();
        s +=
          r < 0.3 ? randomCodePoint(rand) : r < 0.5 ? pick(rand, WORDS) : r < 0.6 ? ' '.repeat(1 + Math.floor(rand() * 6)) : r < 0.7 ? '\r\n' : r < 0.8 ? pick(rand, EMOJI) : r < 0.9 ? String(Math.floor(rand() * 1e6)) : pick(rand, CODE);
      }
    }
    out.push(s);
  }
  for (let i = 0; i < (opts.longLines ?? 0); i++) {
    let line = '';
    while (line.length < 10_000) line += i % 2 === 0 ? pick(rand, WORDS) + (rand() < 0.9 ? ' ' : randomCodePoint(rand)) : randomCodePoint(rand);
    out.push(line.slice(0, 10_000).replace(/[\ud800-\udbff]$/, 'x'));
  }
  return out;
}
