/**
 * @file Reading the document a command analyses: a regular file or standard input (`-`), under the
 * document size limit, refused when it is binary. Every command reads documents through here.
 */
import { binaryReason } from '../shared/binaryText';
import { MAX_DOCUMENT_BYTES, readRegularFile, readStreamWhole, type ReadLimits } from '../engine/files';
import { CliError } from './command';

/** The bytes of `file` (`-` is standard input), as a CliError when they cannot be read. */
export async function readInputBytes(file: string, limits: ReadLimits = { maxBytes: MAX_DOCUMENT_BYTES, what: 'the document' }): Promise<Buffer> {
  try {
    return file === '-' ? await readStreamWhole(process.stdin, 'standard input', limits) : await readRegularFile(file, limits);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** UTF-8 text of a document (a BOM is dropped), refusing binary files. */
export function documentText(bytes: Uint8Array, file: string): string {
  const text = new TextDecoder('utf-8').decode(bytes);
  const binary = binaryReason(text);
  if (binary !== null) {
    throw new CliError(`${file === '-' ? 'standard input' : file}: not analysing it: ${binary}`);
  }
  return text;
}

export async function readDocument(file: string): Promise<string> {
  return documentText(await readInputBytes(file), file);
}
