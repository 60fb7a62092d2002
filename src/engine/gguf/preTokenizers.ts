/**
 * @file llama.cpp's pre-tokenizer names (`tokenizer.ggml.pre`, src/llama-vocab.cpp) → the split
 * regexes of the Hugging Face tokenizer.json they were recognised from, written as tokenizer.json
 * writes them so our tokenizer (which is checked against HF's Rust `tokenizers`) runs them.
 * Normalizers are not applied: llama.cpp applies none, and it is the reference for a GGUF file.
 */

/** Qwen2/Qwen3 (and the models that copied its regex). */
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Llama 3's: like Qwen2's with digits in groups of up to three. */
const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** gpt-oss (o200k, llama.cpp's "gpt-4o"). */
const GPT4O =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** DeepSeek-V3: digits, CJK runs, then the main split. */
const DEEPSEEK_V3 = [
  '\\p{N}{1,3}',
  '[一-龥぀-ゟ゠-ヿ]+',
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];
/** GPT-2's own split (byte-level with use_regex), which StarCoder-style vocabularies precede with single digits. */
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export interface PreTokenizerSpec {
  /** Split regexes, applied in order (each Isolated). */
  splits: readonly string[];
  /** HF's `ignore_merges` (a whole word in the vocabulary is one token): llama.cpp sets it for these. */
  ignoreMerges: boolean;
}

const TABLE: Readonly<Record<string, PreTokenizerSpec>> = {
  qwen2: { splits: [QWEN2], ignoreMerges: false },
  'deepseek-r1-qwen': { splits: [QWEN2], ignoreMerges: false },
  stablelm2: { splits: [QWEN2], ignoreMerges: false },
  llama3: { splits: [LLAMA3], ignoreMerges: true },
  'llama-bpe': { splits: [LLAMA3], ignoreMerges: true },
  'gpt-4o': { splits: [GPT4O], ignoreMerges: true },
  'deepseek-v3': { splits: DEEPSEEK_V3, ignoreMerges: false },
  'gpt-2': { splits: [GPT2], ignoreMerges: false },
  olmo: { splits: [GPT2], ignoreMerges: false },
  refact: { splits: ['\\p{N}', GPT2], ignoreMerges: false },
  starcoder: { splits: ['\\p{N}', GPT2], ignoreMerges: false },
};

/** The split of a pre-tokenizer name, or null when MoE Lens does not know it (the file then runs from ids). */
export function preTokenizerFor(name: string): PreTokenizerSpec | null {
  return Object.prototype.hasOwnProperty.call(TABLE, name) ? TABLE[name] : null;
}

export function knownPreTokenizers(): string[] {
  return Object.keys(TABLE).sort();
}

/** The name for a tokenizer.json's split regexes (for writing GGUF files), or null. */
export function preTokenizerNameOf(splits: readonly string[]): string | null {
  for (const [name, spec] of Object.entries(TABLE)) {
    if (spec.splits.length === splits.length && spec.splits.every((s, i) => s === splits[i])) {
      return name;
    }
  }
  return null;
}
