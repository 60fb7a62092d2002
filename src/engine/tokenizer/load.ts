/** @file Reads a tokenizer folder into a TokenizerCore, with errors that say which file is wrong and how. */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MAX_JSON_BYTES, decodeUtf8, readRegularFileSync } from '../files';
import { readGgufTokenizer } from '../gguf/tokenizerFile';
import { TokenizerCore } from './core';

export class TokenizerError extends Error {
  constructor(
    message: string,
    readonly dir?: string,
  ) {
    super(message);
    this.name = 'TokenizerError';
  }
}

function readJson(file: string, required: boolean): Record<string, unknown> {
  if (!existsSync(file)) {
    if (required) {throw new TokenizerError(`no tokenizer.json in ${join(file, '..')}`);}
    return {};
  }
  let value: unknown;
  const what = basename(file);
  let text: string;
  try {
    text = decodeUtf8(readRegularFileSync(file, { maxBytes: MAX_JSON_BYTES, what }), file, what);
  } catch (err) {
    throw new TokenizerError((err as Error).message);
  }
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerError(`${file} must contain a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * The tokenizer a GGUF file carries, as the same TokenizerCore; a file whose tokenizer cannot split
 * text says why (its model still runs from ids).
 */
export async function loadGgufCore(file: string): Promise<TokenizerCore> {
  let result;
  try {
    result = await readGgufTokenizer(file);
  } catch (err) {
    throw new TokenizerError(`${file}: ${(err as Error).message}`, file);
  }
  if (!result.ok) {
    throw new TokenizerError(`${file}: no tokenizer for text: ${result.reason}; the model still runs from token ids (--ids)`, file);
  }
  try {
    return new TokenizerCore(result.tokenizer, result.config);
  } catch (err) {
    throw new TokenizerError(`${file}: the GGUF tokenizer is not usable: ${(err as Error).message}`, file);
  }
}

/** tokenizer.json (required) and tokenizer_config.json (optional: BOS/EOS flags) from `dir`. */
export function loadCore(dir: string): TokenizerCore {
  const json = readJson(join(dir, 'tokenizer.json'), true);
  const config = readJson(join(dir, 'tokenizer_config.json'), false);
  try {
    return new TokenizerCore(json, config);
  } catch (err) {
    if (err instanceof TokenizerError) { throw err; }
    throw new TokenizerError(`${join(dir, 'tokenizer.json')} is not a usable tokenizer: ${(err as Error).message}`, dir);
  }
}
