/**
 * @file Is this document text at all? A program or an image run through the tokenizer gives tens
 * of thousands of meaningless byte tokens and minutes of work; the CLI and the engine's analyze
 * refuse it up front with this one test.
 */

/** Share of U+FFFD (bytes that were not UTF-8) above which a document counts as binary. */
const MAX_REPLACEMENT_SHARE = 0.01;

/** Why `text` looks like a binary file, or null when it reads as text. */
export function binaryReason(text: string): string | null {
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    return `it contains NUL bytes (the first at character ${nul}), so it is a binary file, not text`;
  }
  let replaced = 0;
  for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) {
    replaced++;
  }
  if (text.length > 0 && replaced / text.length > MAX_REPLACEMENT_SHARE) {
    return `${replaced} of its ${text.length} characters are not valid UTF-8, so it is a binary file, not text`;
  }
  return null;
}
