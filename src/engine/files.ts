/**
 * @file Every file the engine and the CLI read whole goes through here: regular files only, under a
 * stated size limit, so a FIFO, a device (/dev/zero) or a directory is refused in one clear line
 * instead of blocking for ever or filling memory.
 *
 * The file is opened with O_NONBLOCK and checked with fstat on the open descriptor: opening a FIFO
 * without it blocks until a writer appears, and stat-then-open would race with a swapped file.
 */
import * as fs from 'node:fs';

/** Upper bound for config.json, tokenizer.json, tokenizer_config.json, index files. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;
/** Upper bound for a document to analyse (text, from --file, a FILE argument or standard input). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
/** Largest saved trace read whole (`moe-lens analyze TRACE.json`, Open Trace File…). */
export const MAX_TRACE_BYTES = 256 * 1024 * 1024;

export interface ReadLimits {
  /** Larger files are refused, with the limit in the message. */
  maxBytes: number;
  /** What the file is, for messages: "tokenizer.json", "the document". */
  what: string;
}

/** A file that cannot be read as asked: the message names the file, what it is and why. */
export class FileReadError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'FileReadError';
  }
}

// O_NONBLOCK does not exist on Windows, where opening a named pipe does not block this way.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
const CHUNK = 1024 * 1024;

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${+(n / 1024 / 1024).toFixed(1)} MB` : n >= 1024 ? `${+(n / 1024).toFixed(1)} KB` : `${n} bytes`;
}

function kindOf(st: fs.Stats): string {
  return st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO (named pipe)'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : st.isSocket()
            ? 'a socket'
            : 'not a regular file';
}

/** `size` when known up front; a stream or a /proc file is only known to be past the limit. */
function tooBig(file: string, limits: ReadLimits, size?: number): FileReadError {
  const is = size === undefined ? 'is larger than' : `is ${formatBytes(size)}, over`;
  return new FileReadError(`${file}: ${limits.what} ${is} the ${formatBytes(limits.maxBytes)} limit`, file);
}

/**
 * The bytes read so far, refused once past the limit. Reads go one byte past it because st.size can
 * be stale (a growing file) or 0 (/proc files), so only the bytes read tell.
 */
class BoundedChunks {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(
    private readonly file: string,
    private readonly limits: ReadLimits,
  ) {}

  /** A buffer for the next read, never reaching further than one byte past the limit. */
  nextBuffer(): Buffer {
    return Buffer.allocUnsafe(Math.min(CHUNK, this.limits.maxBytes + 1 - this.total));
  }

  add(bytes: Buffer): void {
    this.total += bytes.length;
    if (this.total > this.limits.maxBytes) {
      throw tooBig(this.file, this.limits);
    }
    this.chunks.push(bytes);
  }

  result(): Buffer {
    return Buffer.concat(this.chunks, this.total);
  }
}

/** Reads a regular file whole (synchronously: the tokenizer worker has nothing else to do meanwhile). */
export function readRegularFileSync(file: string, limits: ReadLimits): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw openError(file, limits, err);
  }
  try {
    const st = fs.fstatSync(fd);
    checkStat(file, limits, st);
    const into = new BoundedChunks(file, limits);
    for (let buf = into.nextBuffer(); ; buf = into.nextBuffer()) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) {
        return into.result();
      }
      into.add(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a regular file whole, asynchronously. */
export async function readRegularFile(file: string, limits: ReadLimits): Promise<Buffer> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, OPEN_FLAGS);
  } catch (err) {
    throw openError(file, limits, err);
  }
  try {
    checkStat(file, limits, await fh.stat());
    const into = new BoundedChunks(file, limits);
    for (let buf = into.nextBuffer(); ; buf = into.nextBuffer()) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) {
        return into.result();
      }
      into.add(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

/** Reads a stream (standard input for `--file -`) whole, under the same size limit as a file. */
export async function readStreamWhole(stream: NodeJS.ReadableStream, name: string, limits: ReadLimits): Promise<Buffer> {
  const into = new BoundedChunks(name, limits);
  for await (const chunk of stream) {
    into.add(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return into.result();
}

/** Strict UTF-8 decoding (a BOM is dropped), with an error naming the file. */
export function decodeUtf8(bytes: Uint8Array, file: string, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FileReadError(`${file}: ${what} is not valid UTF-8`, file);
  }
}

function checkStat(file: string, limits: ReadLimits, st: fs.Stats): void {
  if (!st.isFile()) {
    throw new FileReadError(`${file}: ${limits.what} is ${kindOf(st)}; only regular files are read`, file);
  }
  if (st.size > limits.maxBytes) {
    throw tooBig(file, limits, st.size);
  }
}

function openError(file: string, limits: ReadLimits, err: unknown): FileReadError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : `cannot be opened (${code ?? String(err)})`;
  return new FileReadError(`${file}: ${limits.what} ${why}`, file);
}
