/**
 * @file Reads the tokenizer of a GGUF file (the metadata of its first split; no tensor data) into the
 * tokenizer.json objects tokenizer.ts builds. Runs in the tokenizer's worker thread.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { ggufSplitFiles } from '../checkpoint/gguf/open';
import { readGgufHeader } from '../checkpoint/gguf/reader';
import { GGUF_MAGIC } from '../checkpoint/gguf/types';
import { ggufTokenizer, type GgufTokenizer } from './tokenizer';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Synchronously: a regular file starting with "GGUF" (for the tokenizer's folder-or-file check). */
export function isGgufFileSync(p: string): boolean {
  try {
    if (!statSync(p).isFile()) {
      return false;
    }
    const fd = openSync(p, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    try {
      const head = Buffer.alloc(4);
      return readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32LE(0) === GGUF_MAGIC;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

export async function readGgufTokenizer(file: string): Promise<GgufTokenizer> {
  const first = (await ggufSplitFiles(file))[0];
  const fh = await fsp.open(first, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat();
    const header = await readGgufHeader(fh, first, st.size);
    return ggufTokenizer(header.metadata);
  } finally {
    await fh.close();
  }
}
