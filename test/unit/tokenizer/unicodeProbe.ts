/**
 * @file Finds the code points whose Unicode normalization differs between this Node's ICU and the
 * tables compiled into Rust `tokenizers` (unicode-normalization-alignments, an older Unicode): marks
 * and precomposed letters assigned since. Used by the test that keeps rustUnicode.ts up to date.
 */

interface RustNormalizer {
  normalizeString(s: string): string;
}

export function probeNormalizationDifferences(rust: {
  nfcNormalizer(): RustNormalizer;
  nfdNormalizer(): RustNormalizer;
  nfkcNormalizer(): RustNormalizer;
  nfkdNormalizer(): RustNormalizer;
}): number[] {
  const forms: [RustNormalizer, 'NFC' | 'NFD' | 'NFKC' | 'NFKD'][] = [
    [rust.nfcNormalizer(), 'NFC'],
    [rust.nfdNormalizer(), 'NFD'],
    [rust.nfkcNormalizer(), 'NFKC'],
    [rust.nfkdNormalizer(), 'NFKD'],
  ];
  const diffs: number[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    // Only marks and characters with decompositions can normalize differently.
    if (!(/\p{M}/u.test(ch) || ch.normalize('NFD') !== ch || ch.normalize('NFKD') !== ch)) continue;
    // Preceding/following marks of low and high combining class expose any combining class ≠ 0.
    const probes = [ch, 'A' + ch + '\u0301', 'A\u0301' + ch, 'a\u0316' + ch + '\u0301', ch + '\u0301', 'a' + ch + '\u0316', 'a\u0301' + ch + '\u0316'];
    if (probes.some((p) => forms.some(([r, form]) => r.normalizeString(p) !== p.normalize(form)))) diffs.push(cp);
  }
  return diffs;
}
