/**
 * @file Sequential little-endian reads of a GGUF header through positioned reads of a window of the
 * file: the header (metadata, tensor infos) is parsed without reading the file whole, and every
 * length is checked against the bytes left in the file before anything is allocated for it.
 */
import type { FileHandle } from 'node:fs/promises';
import { checkpointError, type CheckpointError } from '../errors';

/** Bytes read per refill: large enough that a 150k-token vocabulary takes a few reads. */
const WINDOW = 1 << 20;
/** No key, value or name in a real file comes near this (chat templates are tens of KB). */
export const MAX_STRING_BYTES = 16 << 20;

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export class GgufCursor {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  /** File offset of buf[0]. */
  private bufStart = 0;
  /** Current file offset. */
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    readonly fileSize: number,
  ) {}

  error(what: string, tensor?: string): CheckpointError {
    return checkpointError(this.file, tensor, what);
  }

  /** Bytes from the current position to the end of the file. */
  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Makes bytes [pos, pos + n) available in the window; `what` names the field for the truncation error. */
  private async need(n: number, what: string): Promise<number> {
    if (n > this.remaining) {
      throw this.error(`file ends at byte ${this.fileSize} inside ${what} (${n} bytes needed at offset ${this.pos}; truncated file?)`);
    }
    const at = this.pos - this.bufStart;
    if (at >= 0 && at + n <= this.buf.length) {
      return at;
    }
    const len = Math.min(Math.max(n, WINDOW), this.remaining);
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh.read(buf, done, len - done, this.pos + done);
      if (bytesRead === 0) {
        throw this.error(`file ended at byte ${this.pos + done} while reading ${what} (was it changed while loading?)`);
      }
      done += bytesRead;
    }
    this.buf = buf;
    this.view = new DataView(buf.buffer);
    this.bufStart = this.pos;
    return 0;
  }

  async u8(what: string): Promise<number> {
    const at = await this.need(1, what);
    this.pos += 1;
    return this.buf[at];
  }

  async u32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(at, true);
  }

  /** A u64 as a bigint (checked against limits by the caller before it becomes a number). */
  async u64(what: string): Promise<bigint> {
    const at = await this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(at, true);
  }

  /** A u64 length or count that must be at most `max` (which is at most 2^53): a number, or the error. */
  async count(what: string, max: number, why: string): Promise<number> {
    const n = await this.u64(what);
    if (n > BigInt(max)) {
      throw this.error(`${what} is ${n}, ${why}`);
    }
    return Number(n);
  }

  /** `n` raw bytes, copied out of the window (n is checked against the file by `need`). */
  async bytes(n: number, what: string): Promise<Uint8Array> {
    const at = await this.need(n, what);
    this.pos += n;
    return this.buf.slice(at, at + n);
  }

  /**
   * A GGUF string: u64 byte length, then UTF-8. Keys and tensor names must be valid UTF-8 (`strict`);
   * values decode with U+FFFD for bad bytes, as llama.cpp keeps whatever bytes a vocabulary holds.
   */
  async string(what: string, strict: boolean): Promise<string> {
    const left = Math.max(0, this.remaining - 8);
    const n = await this.count(`${what}'s length`, Math.min(left, MAX_STRING_BYTES), left < MAX_STRING_BYTES ? `past the ${left} bytes left in the file (corrupt length?)` : `over the ${MAX_STRING_BYTES}-byte limit for one string (corrupt length?)`);
    const at = await this.need(n, what);
    this.pos += n;
    const bytes = this.buf.subarray(at, at + n);
    let ascii = true;
    for (let i = 0; i < n && ascii; i++) {
      ascii = bytes[i] < 0x80;
    }
    if (ascii && n < 256) {
      return String.fromCharCode(...bytes);
    }
    if (!strict) {
      return utf8Lenient.decode(bytes);
    }
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw this.error(`${what} is not valid UTF-8`);
    }
  }

  /**
   * `n` strings (an array's items): decoded straight from the window while it holds them (a
   * vocabulary of 150k tokens would otherwise cost a read call each), each length checked as
   * `string` checks it; the slow path (`string`) refills the window and gives the errors.
   */
  async strings(n: number, what: string): Promise<string[]> {
    const out = new Array<string>(n);
    let i = 0;
    while (i < n) {
      const text = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.length);
      let at = this.pos - this.bufStart;
      while (i < n && at >= 0 && at + 8 <= this.buf.length) {
        const len = this.view.getUint32(at, true);
        if (this.view.getUint32(at + 4, true) !== 0 || len > MAX_STRING_BYTES || at + 8 + len > this.buf.length) {
          break;
        }
        out[i++] = text.toString('utf8', at + 8, at + 8 + len);
        at += 8 + len;
        this.pos += 8 + len;
      }
      if (i < n) {
        out[i] = await this.string(`${what}[${i}]`, false);
        i++;
      }
    }
    return out;
  }

  /** Steps over `n` bytes without reading them (checked against the file). */
  skip(n: number, what: string): void {
    if (n > this.remaining) {
      throw this.error(`file ends at byte ${this.fileSize} inside ${what} (${n} bytes needed at offset ${this.pos}; truncated file?)`);
    }
    this.pos += n;
  }

  /** Steps over `n` strings, each length checked as `string` checks it, none decoded. */
  async skipStrings(n: number, what: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      const at = this.pos - this.bufStart;
      if (at >= 0 && at + 8 <= this.buf.length && this.view.getUint32(at + 4, true) === 0) {
        const len = this.view.getUint32(at, true);
        if (len <= MAX_STRING_BYTES && len <= this.remaining - 8) {
          this.pos += 8 + len;
          continue;
        }
      }
      await this.string(`${what}[${i}]`, false); // refills the window, or gives the error
    }
  }

  /** `count` fixed-size little-endian values of `width` bytes (already bounded by the caller), as a fresh aligned buffer. */
  async array(count: number, width: number, what: string): Promise<ArrayBuffer> {
    const n = count * width;
    const at = await this.need(n, what);
    this.pos += n;
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(at, at + n));
    return out.buffer;
  }

  /** A fixed-size scalar read through a DataView at the current position. */
  async scalar<T>(width: number, what: string, get: (view: DataView, at: number) => T): Promise<T> {
    const at = await this.need(width, what);
    this.pos += width;
    return get(this.view, at);
  }
}
