/**
 * @file The host side of the engine process: forks dist/engine.js with the host's own runtime
 * (ELECTRON_RUN_AS_NODE), talks the shared JSON-RPC protocol, keeps the loaded model in step, and
 * restarts the process after a crash (at most 4 times in 3 minutes). A request that outlives the
 * timeout gets the process killed. No vscode import: tests fork real processes through it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import {
  CancellationTokenSource,
  Emitter,
  ResponseError,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import {
  AnalyzeRequest,
  CounterfactualRequest,
  DescribeModelsRequest,
  EngineErrorCodes,
  ListModelsRequest,
  LoadModelRequest,
  ReadTraceRequest,
  LogNotification,
  PartialTraceNotification,
  ProgressNotification,
  ProtocolError,
  ShutdownRequest,
  StatusRequest,
  checkCounterfactualResult,
  checkDescribeModelsResult,
  checkEngineStatus,
  checkListModelsResult,
  checkLoadModelResult,
  checkPartialTraceParams,
  checkProgressParams,
  type AnalyzeParams,
  type CounterfactualParams,
  type CounterfactualResult,
  type DescribeModelsParams,
  type DescribeModelsResult,
  type EngineStatus,
  type ListModelsResult,
  type LoadModelParams,
  type LoadModelResult,
  type ProgressParams,
} from '../shared/engineProtocol';
import { MAX_TIMEOUT_MS } from '../shared/timeouts';
import type { RoutingTrace } from '../shared/trace';
import { unpackTrace } from '../shared/tracePacking';
import { engineEnv, watchdogLimitMb } from './pure/memoryBudget';
import { RestartLimiter } from './pure/restartLimiter';

export interface EngineClientOptions {
  /** dist/engine.js. */
  enginePath: string;
  /**
   * The engine's memory budget in MB (moeLens.memoryLimitMb); 0 = none (the engine's default).
   * Passed as MOE_LENS_MAX_MEMORY_MB, which the engine plans each load within (resident, streamed or
   * refused), and as the V8 heap limit (--max-old-space-size); on Linux the process's resident size
   * is watched too, with headroom above the budget (watchdogLimitMb), since model weights live in
   * WebAssembly or native memory, outside the V8 heap.
   */
  memoryLimitMb: number;
  /** How often the resident size is checked (ms). */
  memoryPollMs?: number;
  /** A request running longer than this kills the engine; 0 = never. */
  requestTimeoutMs: number;
  /** Threads of the engine's wasm backend (MOE_LENS_THREADS); 0 or absent = every core. */
  threads?: number;
  /** Extra execArgv (tests run TypeScript engines through tsx). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  limiter?: RestartLimiter;
}

export type EngineState = 'stopped' | 'running' | 'gaveUp';

/**
 * How much lower the engine's CPU priority is than the host's (Unix niceness): it computes on every
 * core by default, and the editor's own process should win a core whenever both want one.
 */
export const ENGINE_NICENESS = 5;

function lowerPriority(pid: number): void {
  try {
    os.setPriority(pid, Math.min(19, os.getPriority(process.pid) + ENGINE_NICENESS));
  } catch {
    // not permitted here: the engine runs at the host's priority
  }
}

/** The engine's environment with moeLens.engineThreads as MOE_LENS_THREADS; 0 leaves the engine its default (every core). */
export function withEngineThreads(env: NodeJS.ProcessEnv, threads: number): NodeJS.ProcessEnv {
  return threads > 0 ? { ...env, MOE_LENS_THREADS: String(threads) } : env;
}

/** Why the engine process went away, in words for the user. */
export interface EngineExit {
  reason: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the automatic restart budget is spent: only restart() starts it again. */
  gaveUp: boolean;
  /** The process ended because we asked it to (dispose/restart): not a crash. */
  expected: boolean;
}

/** The request failed because the engine process died (crash, OOM, timeout kill). */
export class EngineCrashedError extends Error {
  constructor(readonly exit: EngineExit) {
    super(`The MoE Lens engine stopped: ${exit.reason}`);
  }
}

/** The automatic restart budget is spent. */
export class EngineGaveUpError extends Error {
  constructor(max: number, windowMs: number) {
    super(
      `The MoE Lens engine crashed ${max} times in ${Math.round(windowMs / 60000)} minutes, so it is not restarted automatically. Use "MoE Lens: Restart Engine" after fixing the cause (model, memory limit).`,
    );
  }
}

export class CancelledError extends Error {
  constructor() {
    super('Analysis cancelled');
  }
}

/** An error answer from the engine (bad model folder, refused path, …). */
export class EngineRequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Running {
  child: ChildProcess;
  connection: MessageConnection;
  exited: Promise<EngineExit>;
  stderrTail: string[];
  /** What we asked for when we killed it, so the exit reason says so. */
  killReason?: string;
  expected?: boolean;
  loaded?: { key: string; result: LoadModelResult };
}

function modelKey(p: LoadModelParams): string {
  return JSON.stringify([p.path, p.backend, [...(p.forbiddenRoots ?? [])].sort()]);
}

export class EngineClient {
  private proc: Running | null = null;
  private started = false;
  private gaveUp = false;
  private chain: Promise<unknown> = Promise.resolve();
  private pendingCount = 0;
  private readonly limiter: RestartLimiter;
  private readonly now: () => number;

  private readonly exitEmitter = new Emitter<EngineExit>();
  private readonly progressEmitter = new Emitter<ProgressParams>();
  private readonly partialEmitter = new Emitter<{ progressId: string; trace: RoutingTrace }>();
  private readonly logEmitter = new Emitter<{ level: string; message: string }>();
  private readonly startEmitter = new Emitter<number>();

  /** The engine process ended (crash, OOM, timeout kill, or on request). */
  readonly onDidExit = this.exitEmitter.event;
  readonly onDidProgress = this.progressEmitter.event;
  /** The first window of a long document, analysed, for the analyze request that carried `progressId` (it may come after that request's answer). */
  readonly onDidPartialTrace = this.partialEmitter.event;
  readonly onDidLog = this.logEmitter.event;
  /** A new engine process started; carries its pid. */
  readonly onDidStart = this.startEmitter.event;

  constructor(private options: EngineClientOptions) {
    this.limiter = options.limiter ?? new RestartLimiter();
    this.now = options.now ?? Date.now;
  }

  get state(): EngineState {
    return this.gaveUp ? 'gaveUp' : this.proc ? 'running' : 'stopped';
  }

  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  /** Requests queued or running in this client. */
  get pending(): number {
    return this.pendingCount;
  }

  /** The model the current process has loaded. */
  get loadedModel(): LoadModelResult | undefined {
    return this.proc?.loaded?.result;
  }

  /** New memory limit / timeout; a memory limit applies from the next start. */
  updateOptions(patch: Partial<Pick<EngineClientOptions, 'memoryLimitMb' | 'requestTimeoutMs' | 'threads'>>): void {
    this.options = { ...this.options, ...patch };
  }

  /** Loads (or keeps) the model; cancellable through `signal`. */
  loadModel(model: LoadModelParams, signal?: AbortSignal): Promise<LoadModelResult> {
    return this.serial(signal, () => this.ensureModel(model, signal));
  }

  /** Makes sure `model` is loaded in the engine, then analyses `params.text` with it. */
  analyze(model: LoadModelParams, params: AnalyzeParams, signal?: AbortSignal): Promise<{ trace: RoutingTrace; model: LoadModelResult }> {
    return this.serial(signal, async () => {
      const loaded = await this.ensureModel(model, signal);
      const raw = await this.request<unknown>((c, token) => c.sendRequest(AnalyzeRequest.type, params, token), signal);
      let trace: RoutingTrace;
      try {
        trace = await unpackTrace(raw); // validated there, by the one trace validator
      } catch (err) {
        throw new ProtocolError(`analyze result: ${err instanceof Error ? err.message : String(err)}`);
      }
      return { trace, model: loaded };
    });
  }

  /**
   * Makes sure `model` is loaded, then runs one counterfactual mode (or a sweep, one pass after
   * another) over `params.text` in the engine; aborting cancels it between layers and passes.
   */
  counterfactual(model: LoadModelParams, params: CounterfactualParams, signal?: AbortSignal): Promise<CounterfactualResult> {
    return this.serial(signal, async () => {
      await this.ensureModel(model, signal);
      const raw = await this.request<unknown>((c, token) => c.sendRequest(CounterfactualRequest.type, params, token), signal);
      return checkCounterfactualResult(raw);
    });
  }

  /**
   * A saved trace file, read and validated in the engine process (parsing a big one would stall the
   * extension host), then unpacked here through the one validator. Needs no model.
   */
  readTrace(path: string, signal?: AbortSignal): Promise<RoutingTrace> {
    return this.serial(signal, async () => {
      const raw = await this.request<unknown>((c, token) => c.sendRequest(ReadTraceRequest.type, { path }, token), signal);
      try {
        return await unpackTrace(raw);
      } catch (err) {
        throw new ProtocolError(`readTrace result: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }

  listModels(hubDir?: string): Promise<ListModelsResult> {
    return this.serial(undefined, async () =>
      checkListModelsResult(await this.request<unknown>((c, token) => c.sendRequest(ListModelsRequest.type, { hubDir }, token))),
    );
  }

  /**
   * Family, size and memory plan of model folders from their headers, under the engine's budget;
   * not queued behind this client's requests (the engine answers at once, even mid-analysis).
   */
  async describeModels(params: DescribeModelsParams): Promise<DescribeModelsResult> {
    return checkDescribeModelsResult(await this.request<unknown>((c, token) => c.sendRequest(DescribeModelsRequest.type, params, token)));
  }

  /** Answered at once by the engine, even mid-analysis; starts the engine when it is not running. */
  async status(): Promise<EngineStatus> {
    const proc = this.ensureProcess();
    return checkEngineStatus(await proc.connection.sendRequest(StatusRequest.type));
  }

  /** Kills the process as if it had crashed (the debug command and tests use this). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): boolean {
    return this.proc?.child.kill(signal) ?? false;
  }

  /** Stops the current process (if any), forgets the restart history, and starts a new one. */
  async restart(): Promise<number | undefined> {
    await this.stop();
    this.gaveUp = false;
    this.limiter.reset();
    this.started = false;
    return this.ensureProcess().child.pid;
  }

  /** Asks the engine to exit, killing it if it does not within a second. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) {
      return;
    }
    proc.expected = true;
    proc.killReason = 'stopped';
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 1000);
    try {
      await Promise.race([proc.connection.sendRequest(ShutdownRequest.type), proc.exited]);
    } catch {
      proc.child.kill('SIGKILL');
    }
    await proc.exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.exitEmitter.dispose();
    this.progressEmitter.dispose();
    this.partialEmitter.dispose();
    this.logEmitter.dispose();
    this.startEmitter.dispose();
  }

  // ─── internals ──────────────────────────────────────────────────────────────────────────────

  /** One request at a time from this client, so the timeout measures the request itself. */
  private serial<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    this.pendingCount++;
    const run = async (): Promise<T> => {
      if (signal?.aborted) {
        throw new CancelledError();
      }
      return fn();
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next.finally(() => this.pendingCount--);
  }

  private async ensureModel(model: LoadModelParams, signal?: AbortSignal): Promise<LoadModelResult> {
    const key = modelKey(model);
    const proc = this.ensureProcess();
    if (proc.loaded?.key === key) {
      return proc.loaded.result;
    }
    // Switching unloads the engine's current model first, so a failed load leaves none loaded.
    proc.loaded = undefined;
    const raw = await this.request<unknown>((c, token) => c.sendRequest(LoadModelRequest.type, model, token), signal);
    const result = checkLoadModelResult(raw);
    if (this.proc === proc) {
      proc.loaded = { key, result };
    }
    return result;
  }

  /** Sends one request on the (possibly restarted) engine, with timeout, cancellation and crash handling. */
  private async request<T>(
    send: (c: MessageConnection, token: CancellationTokenSource['token']) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const proc = this.ensureProcess();
    const cts = new CancellationTokenSource();
    const onAbort = (): void => cts.cancel();
    signal?.addEventListener('abort', onAbort);
    let timer: NodeJS.Timeout | undefined;
    // Clamped: a timer given more than 2^31 − 1 ms would fire after 1 ms instead.
    const timeoutMs = Math.min(this.options.requestTimeoutMs, MAX_TIMEOUT_MS);
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        proc.killReason = `a request ran longer than the ${Math.round(timeoutMs / 1000)} s timeout (moeLens.requestTimeoutSeconds) and was killed`;
        proc.child.kill('SIGKILL');
      }, timeoutMs);
    }
    try {
      const crashed = proc.exited.then((exit) => {
        throw new EngineCrashedError(exit);
      });
      return await Promise.race([send(proc.connection, cts.token), crashed]);
    } catch (err) {
      if (err instanceof EngineCrashedError) {
        throw err;
      }
      // The connection rejects pending requests when the process dies: report the death instead.
      if (this.proc !== proc || proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new EngineCrashedError(await proc.exited);
      }
      if (err instanceof ResponseError) {
        if (err.code === EngineErrorCodes.Cancelled) {
          throw new CancelledError();
        }
        throw new EngineRequestError(err.code, err.message);
      }
      if (signal?.aborted) {
        throw new CancelledError();
      }
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }

  private ensureProcess(): Running {
    if (this.proc) {
      return this.proc;
    }
    if (this.gaveUp) {
      throw new EngineGaveUpError(this.limiter.max, this.limiter.windowMs);
    }
    if (this.started && !this.limiter.tryRestart(this.now())) {
      this.gaveUp = true;
      throw new EngineGaveUpError(this.limiter.max, this.limiter.windowMs);
    }
    this.started = true;
    this.proc = this.spawn();
    return this.proc;
  }

  private spawn(): Running {
    const execArgv = [...(this.options.execArgv ?? [])];
    if (this.options.memoryLimitMb > 0) {
      execArgv.push(`--max-old-space-size=${Math.round(this.options.memoryLimitMb)}`);
    }
    const child = fork(this.options.enginePath, [], {
      execArgv,
      // Inside VS Code, process.execPath is Electron: engineEnv makes it behave as plain Node.
      env: withEngineThreads(engineEnv(this.options.env ?? process.env, this.options.memoryLimitMb), this.options.threads ?? 0),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const stderrTail: string[] = [];
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      for (const line of text.split(/\r?\n/)) {
        if (line.trim()) {
          stderrTail.push(line);
        }
      }
      stderrTail.splice(0, Math.max(0, stderrTail.length - 30));
      this.logEmitter.fire({ level: 'stderr', message: text.trimEnd() });
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', (chunk: Buffer) => this.logEmitter.fire({ level: 'stdout', message: chunk.toString('utf8').trimEnd() }));

    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onNotification(ProgressNotification.type, (p) => {
      try {
        this.progressEmitter.fire(checkProgressParams(p));
      } catch {
        // a malformed progress message is dropped, not fatal
      }
    });
    connection.onNotification(PartialTraceNotification.type, (p) => {
      void (async () => {
        try {
          const { progressId, trace } = checkPartialTraceParams(p);
          this.partialEmitter.fire({ progressId, trace: await unpackTrace(trace) });
        } catch {
          // a malformed partial trace is dropped: the full one follows
        }
      })();
    });
    connection.onNotification(LogNotification.type, (m) => {
      if (m && typeof m.message === 'string') {
        this.logEmitter.fire({ level: String(m.level), message: m.message });
      }
    });
    connection.onError(() => undefined);
    connection.listen();

    const running: Running = {
      child,
      connection,
      stderrTail,
      exited: undefined as unknown as Promise<EngineExit>,
    };
    running.exited = new Promise<EngineExit>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.proc === running) {
          this.proc = null;
        }
        const exit: EngineExit = {
          reason: running.killReason ?? describeExit(code, signal, stderrTail, this.options.memoryLimitMb),
          code,
          signal,
          gaveUp: false,
          expected: running.expected === true,
        };
        // Would the next request be allowed to restart it? Tell the UI now, without spending budget.
        exit.gaveUp = !exit.expected && this.limiter.count(this.now()) >= this.limiter.max;
        if (exit.gaveUp) {
          this.gaveUp = true;
        }
        resolve(exit);
        connection.dispose();
        this.exitEmitter.fire(exit);
      };
      child.once('exit', done);
      child.once('error', (err) => {
        running.killReason = `could not start: ${err.message}`;
        if (child.exitCode === null && child.pid === undefined) {
          done(null, null);
        }
      });
    });
    if (child.pid !== undefined) {
      lowerPriority(child.pid);
      this.watchMemory(running);
      this.startEmitter.fire(child.pid);
    }
    return running;
  }

  /** Kills the engine when its resident size passes the budget plus headroom (Linux: /proc/PID/status VmRSS). */
  private watchMemory(running: Running): void {
    const budget = this.options.memoryLimitMb;
    const limit = watchdogLimitMb(budget);
    const pid = running.child.pid;
    if (!(limit > 0) || process.platform !== 'linux' || pid === undefined) {
      return;
    }
    const timer = setInterval(() => {
      fsp.readFile(`/proc/${pid}/status`, 'utf8').then(
        (status) => {
          const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
          const mb = Math.round(kb / 1024);
          if (mb > limit && running.child.exitCode === null && running.killReason === undefined) {
            running.killReason = `out of memory: the engine reached ${mb} MB, over the ${limit} MB it may reach with a memory budget of ${budget} MB (setting moeLens.memoryLimitMb)`;
            running.child.kill('SIGKILL');
          }
        },
        () => clearInterval(timer),
      );
    }, this.options.memoryPollMs ?? 1000);
    timer.unref();
    void running.exited.then(() => clearInterval(timer));
  }
}

/** The exit in words: out of memory when V8 said so, else the signal/code and the last stderr line. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null, stderrTail: readonly string[], memoryLimitMb: number): string {
  const text = stderrTail.join('\n');
  if (/heap out of memory|Allocation failed|Reached heap limit|ERR_OUT_OF_MEMORY|std::bad_alloc/i.test(text)) {
    const limit = memoryLimitMb > 0 ? ` (memory limit ${memoryLimitMb} MB, setting moeLens.memoryLimitMb)` : '';
    return `out of memory${limit}`;
  }
  const last = [...stderrTail].reverse().find((l) => /error/i.test(l)) ?? stderrTail[stderrTail.length - 1];
  const how = signal ? `killed by ${signal}` : `exited with code ${code ?? '?'}`;
  return last ? `${how}: ${last.trim().slice(0, 300)}` : how;
}
