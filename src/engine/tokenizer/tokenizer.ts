/**
 * @file The document tokenizer: ids exactly as HF's Rust `tokenizers`, spans in UTF-16 code units of
 * the document, encoding under a watchdog.
 *
 * Encoding runs in a worker thread (worker.ts). If one call takes longer than its time limit — a
 * tokenizer.json whose split regex backtracks catastrophically — the thread is terminated and the
 * call rejects with a TokenizerError; the next call starts a fresh thread.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkTimeoutMs } from '../../shared/timeouts';
import type { EncodedToken } from '../../shared/trace';
import type { DecodeTable } from './core';
import { decodeIds, tokenTextOf } from './decode';
import { FLAG_NO_SPAN, FLAG_PARTIAL, type CoreEncoding } from './encoding';
import { isGgufFileSync } from '../gguf/tokenizerFile';
import { TokenizerError } from './load';
import type { WorkerMessage, WorkerRequest } from './worker';

export { TokenizerError } from './load';

export interface EncodeOptions {
  /** add BOS/EOS per tokenizer_config.json (default true) */ addSpecialTokens?: boolean;
  /** how special-token strings written in the document are treated (default: 'text') */ specialTokensInText?: 'special' | 'text';
  /** watchdog limit for this call in ms (default: 10 s + 20 ms per 1,000 characters; env MOE_LENS_TOKENIZE_TIMEOUT_MS) */
  timeoutMs?: number;
  /** aborting stops the worker at once (it is restarted for the next call) */
  signal?: AbortSignal;
}

export interface DocumentTokenizer {
  readonly dir: string;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Ids exactly as HF Rust `tokenizers`; spans in UTF-16 code units of `text`; runs under a watchdog (rejects with a clear error on timeout). */
  encode(text: string, opts?: EncodeOptions): Promise<EncodedToken[]>;
  decode(ids: number[]): string;
  /** human-readable text of one token (for --ids traces and tables) */
  tokenText(id: number): string;
  dispose(): void;
}

export interface TokenizerLoadOptions {
  /** watchdog limit for reading and building the tokenizer (default 60 s) */
  loadTimeoutMs?: number;
  /** aborting stops reading and building the tokenizer */
  signal?: AbortSignal;
}

export async function loadTokenizer(dir: string, options: TokenizerLoadOptions = {}): Promise<DocumentTokenizer> {
  const abs = resolve(dir);
  if (!existsSync(abs)) {throw new TokenizerError(`tokenizer folder not found: ${abs}`, abs);}
  const gguf = isGgufFileSync(abs);
  if (!gguf && !existsSync(join(abs, 'tokenizer.json'))) {
    throw new TokenizerError(`no tokenizer.json in ${abs} (MoE Lens reads HF fast-tokenizer files and GGUF files)`, abs);
  }
  const host = new WorkerHost(abs, options.loadTimeoutMs ?? 60_000, gguf);
  const table = await host.whileNotAborted(host.start(), options.signal, 'loading the tokenizer was cancelled');
  return new WorkerTokenizer(abs, host, table);
}

/** The worker script: the esbuild bundle beside dist/*.js, or the TypeScript source under tsx. */
function workerScript(): string {
  for (const candidate of [join(__dirname, 'tokenizerWorker.js'), join(__dirname, 'worker.ts')]) {
    if (existsSync(candidate)) { return candidate; }
  }
  throw new TokenizerError(`tokenizer worker script not found beside ${__dirname}`);
}

/** Owns one worker thread; restarts it after a watchdog kill. Calls are serialized. */
class WorkerHost {
  private worker: Worker | null = null;
  private ready: Promise<DecodeTable> | null = null;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private abortLoad: ((err: Error) => void) | null = null;
  private pending = new Map<number, { resolve: (e: CoreEncoding) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly dir: string,
    private readonly loadTimeoutMs: number,
    /** `dir` is a GGUF file whose metadata holds the tokenizer. */
    private readonly gguf = false,
  ) {}

  start(): Promise<DecodeTable> {
    if (this.ready) { return this.ready; }
    const script = workerScript();
    // From source (tests, tsx), the worker needs tsx's require hook before it can load a .ts file.
    const worker = script.endsWith('.ts')
      ? new Worker(`require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs'))}); require(${JSON.stringify(script)});`, {
          eval: true,
          workerData: { dir: this.dir, gguf: this.gguf },
        })
      : new Worker(script, { workerData: { dir: this.dir, gguf: this.gguf } });
    this.worker = worker;
    this.ready = new Promise<DecodeTable>((resolveReady, rejectReady) => {
      // Every failure while loading goes through kill(), which rejects this promise.
      this.abortLoad = rejectReady;
      const timer = setTimeout(() => {
        this.kill(new TokenizerError(`loading the tokenizer in ${this.dir} took longer than ${this.loadTimeoutMs / 1000} s`, this.dir));
      }, this.loadTimeoutMs);
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          worker.unref();
          this.abortLoad = null;
          resolveReady(msg.table);
        } else if (msg.type === 'error' && msg.id === null) {
          clearTimeout(timer);
          this.kill(new TokenizerError(msg.message, this.dir));
        } else if (msg.type === 'encoded') {
          this.settle(msg.id, (p) => p.resolve(msg.enc));
        } else if (msg.type === 'error' && msg.id !== null) {
          this.settle(msg.id, (p) => p.reject(new TokenizerError(`tokenizing failed: ${msg.message}`, this.dir)));
        }
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        this.kill(new TokenizerError(`the tokenizer worker for ${this.dir} failed: ${err.message}`, this.dir));
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        if (this.worker === worker) {
          this.kill(new TokenizerError(`the tokenizer worker for ${this.dir} exited unexpectedly (code ${code})`, this.dir));
        }
      });
    });
    return this.ready;
  }

  /** `work` as is, but when `signal` aborts first the worker is stopped and this rejects. */
  async whileNotAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, message: string): Promise<T> {
    if (!signal) {
      return work;
    }
    const onAbort = (): void => this.kill(new TokenizerError(message, this.dir));
    if (signal.aborted) {
      onAbort();
    }
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await work;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  encode(req: Omit<WorkerRequest, 'type' | 'id'>, timeoutMs: number, signal?: AbortSignal): Promise<CoreEncoding> {
    const run = async (): Promise<CoreEncoding> => {
      signal?.throwIfAborted();
      await this.start();
      const worker = this.worker!;
      const id = this.nextId++;
      worker.ref();
      try {
        return await new Promise<CoreEncoding>((resolveEnc, rejectEnc) => {
          const timer = setTimeout(() => {
            // kill() rejects every waiting call, this one included, with this message.
            this.kill(
              new TokenizerError(
                `tokenizing ${req.text.length} characters took longer than ${timeoutMs / 1000} s, so it was stopped: ` +
                  `the split regex in ${join(this.dir, 'tokenizer.json')} probably backtracks catastrophically on this text`,
                this.dir,
              ),
            );
          }, timeoutMs);
          this.pending.set(id, {
            resolve: (e) => (clearTimeout(timer), resolveEnc(e)),
            reject: (e) => (clearTimeout(timer), rejectEnc(e)),
          });
          worker.postMessage({ type: 'encode', id, ...req } satisfies WorkerRequest);
        });
      } finally {
        this.worker?.unref();
      }
    };
    const result = this.whileNotAborted(this.queue.then(run, run), signal, 'tokenizing was cancelled');
    this.queue = result.catch(() => undefined);
    return result;
  }

  private settle(id: number, f: (p: { resolve: (e: CoreEncoding) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending.get(id);
    if (p) {
      this.pending.delete(id);
      f(p);
    }
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) { p.reject(err); }
  }

  /** Stops the worker; calls still waiting on it reject with `reason`. */
  kill(reason = new TokenizerError('the tokenizer was disposed', this.dir)): void {
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    this.failAll(reason);
    this.abortLoad?.(reason);
    this.abortLoad = null;
    if (w) {
      void w.terminate();
    }
  }
}

class WorkerTokenizer implements DocumentTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  private readonly texts = new Map<number, string>();
  private disposed = false;

  constructor(
    readonly dir: string,
    private readonly host: WorkerHost,
    private readonly table: DecodeTable,
  ) {
    this.vocabSize = table.vocabSize;
    this.bosTokenId = table.bosTokenId;
    this.eosTokenId = table.eosTokenId;
  }

  async encode(text: string, opts: EncodeOptions = {}): Promise<EncodedToken[]> {
    if (this.disposed) {
      throw new TokenizerError('the tokenizer was disposed', this.dir);
    }
    const timeoutMs = this.timeoutFor(text, opts.timeoutMs);
    const enc = await this.host.encode(
      {
        text,
        addSpecialTokens: opts.addSpecialTokens ?? true,
        specialTokensInText: opts.specialTokensInText ?? 'text',
      },
      timeoutMs,
      opts.signal,
    );
    const tokens: EncodedToken[] = new Array(enc.ids.length);
    for (let i = 0; i < enc.ids.length; i++) {
      const f = enc.flags[i];
      const token: EncodedToken = {
        id: enc.ids[i],
        text: this.tokenText(enc.ids[i]),
        start: f & FLAG_NO_SPAN ? null : enc.starts[i],
        end: f & FLAG_NO_SPAN ? null : enc.ends[i],
      };
      if (f & FLAG_PARTIAL) { token.partial = true; }
      tokens[i] = token;
    }
    return tokens;
  }

  /** The watchdog limit: the caller's, else MOE_LENS_TOKENIZE_TIMEOUT_MS, else one that grows with the text. */
  private timeoutFor(text: string, given: number | undefined): number {
    const env = process.env.MOE_LENS_TOKENIZE_TIMEOUT_MS;
    const [value, name] = given !== undefined ? [given, 'the tokenize timeout'] : env ? [Number(env), 'MOE_LENS_TOKENIZE_TIMEOUT_MS'] : [null, ''];
    if (value === null) {
      return 10_000 + Math.ceil(text.length / 1000) * 20;
    }
    try {
      return checkTimeoutMs(value, name);
    } catch (err) {
      throw new TokenizerError((err as Error).message, this.dir);
    }
  }

  decode(ids: number[]): string {
    try {
      return decodeIds(this.table, ids);
    } catch (err) {
      throw new TokenizerError((err as Error).message, this.dir);
    }
  }

  tokenText(id: number): string {
    let t = this.texts.get(id);
    if (t === undefined) {
      try {
        t = tokenTextOf(this.table, id);
      } catch (err) {
        throw new TokenizerError((err as Error).message, this.dir);
      }
      this.texts.set(id, t);
    }
    return t;
  }

  dispose(): void {
    this.disposed = true;
    this.host.kill();
  }
}
