/**
 * @file The engine's JSON-RPC server: one request at a time, cancellation wired to AbortSignal,
 * progress notifications, one model kept loaded between analyses (switching unloads the old one).
 * Transport-agnostic: main.ts hands it an IPC connection, tests an in-memory one.
 */
import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc';
import {
  AnalyzeRequest,
  CounterfactualRequest,
  DescribeModelsRequest,
  EngineErrorCodes,
  ListModelsRequest,
  LoadModelRequest,
  PartialTraceNotification,
  ProgressNotification,
  ProtocolError,
  ReadTraceRequest,
  ShutdownRequest,
  StatusRequest,
  checkAnalyzeParams,
  checkCounterfactualParams,
  checkDescribeModelsParams,
  checkListModelsParams,
  checkLoadModelParams,
  checkReadTraceParams,
  type BackendPreference,
  type CounterfactualResult,
  type DescribedModel,
  type LoadModelResult,
} from '../../shared/engineProtocol';
import { realpathOr, rootContaining } from '../../shared/insidePath';
import { packTrace, type PackedTrace } from '../../shared/tracePacking';
import { readTraceJson } from '../../shared/traceCodec';
import { decodeUtf8, FileReadError, MAX_TRACE_BYTES, readRegularFile } from '../files';
import { scanHubGguf } from '../discovery/hfGguf';
import { defaultLmStudioDir, scanLmStudio } from '../discovery/lmStudio';
import { defaultOllamaDir, scanOllama } from '../discovery/ollama';
import { defaultHubDir, scanHubCache } from './hfCache';
import type { EngineRuntime, RuntimeModel } from './runtime';
import type { RoutingTrace } from '../../shared/trace';


function abortSignalFor(token: CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) {
    controller.abort();
  }
  const sub = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => sub.dispose() };
}

function cancelled(): ResponseError<void> {
  return new ResponseError(EngineErrorCodes.Cancelled, 'cancelled');
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ServerOptions {
  /** Called after a shutdown request has been answered. */
  exit: () => void;
  env?: NodeJS.ProcessEnv;
}

export function startEngineServer(connection: MessageConnection, runtime: EngineRuntime, opts: ServerOptions): void {
  let loaded: { dir: string; backend: BackendPreference; model: RuntimeModel } | null = null;
  // Requests run strictly one after another: the forward pass holds most of the memory we have.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };

  const progress = (progressId: string | undefined) =>
    progressId === undefined
      ? undefined
      : (fraction: number, msg: string): void => {
          void connection.sendNotification(ProgressNotification.type, {
            progressId,
            fraction: Math.min(1, Math.max(0, fraction)),
            message: msg,
          });
        };

  // Resolves once the message is written: the analysis waits for that (analyze.ts onFirstWindow).
  const firstWindow =
    (progressId: string) =>
    (partial: RoutingTrace): Promise<void> =>
      connection.sendNotification(PartialTraceNotification.type, { progressId, trace: packTrace(partial) });

  const badParams = (err: unknown): never => {
    if (err instanceof ProtocolError) {
      throw new ResponseError(-32602, err.message);
    }
    throw err;
  };

  connection.onRequest(LoadModelRequest.type, (raw, token) =>
    serial(async (): Promise<LoadModelResult> => {
      let params;
      try {
        params = checkLoadModelParams(raw);
      } catch (err) {
        return badParams(err);
      }
      if (token.isCancellationRequested) {
        throw cancelled();
      }
      const dir = await realpathOr(params.path ?? runtime.defaultModelDir());
      const root = await rootContaining(dir, params.forbiddenRoots ?? []);
      if (root !== undefined) {
        throw new ResponseError(
          EngineErrorCodes.Forbidden,
          `Refusing to load a model from ${dir}: it lies in the untrusted workspace folder ${root}. Trust the workspace or pick a model outside it.`,
        );
      }
      if (loaded && loaded.dir === dir && loaded.backend === params.backend) {
        const m = loaded.model;
        return { info: m.info, backend: m.backend, maxContext: m.maxContext, loadMs: 0, cached: true };
      }
      // Unload first: two models at once could exceed the memory limit.
      if (loaded) {
        loaded.model.dispose();
        loaded = null;
      }
      const started = Date.now();
      const abort = abortSignalFor(token);
      try {
        const model = await runtime.load(dir, params.backend, {
          signal: abort.signal,
          onProgress: progress(params.progressId),
        });
        if (abort.signal.aborted) {
          model.dispose();
          throw cancelled();
        }
        loaded = { dir, backend: params.backend, model };
        return { info: model.info, backend: model.backend, maxContext: model.maxContext, loadMs: Date.now() - started, cached: false };
      } catch (err) {
        if (err instanceof ResponseError) {
          throw err;
        }
        if (abort.signal.aborted) {
          throw cancelled();
        }
        throw new ResponseError(EngineErrorCodes.LoadFailed, message(err));
      } finally {
        abort.dispose();
      }
    }),
  );

  connection.onRequest(AnalyzeRequest.type, (raw, token) =>
    serial(async (): Promise<PackedTrace> => {
      let params;
      try {
        params = checkAnalyzeParams(raw);
      } catch (err) {
        return badParams(err);
      }
      if (!loaded) {
        throw new ResponseError(EngineErrorCodes.NoModel, 'No model is loaded: send moeLens/loadModel first.');
      }
      if (token.isCancellationRequested) {
        throw cancelled();
      }
      const abort = abortSignalFor(token);
      try {
        const trace = await loaded.model.analyze(params.text, {
          windowSize: params.windowSize,
          windowOverlap: params.windowOverlap,
          specialTokensInText: params.specialTokensInText,
          ...(params.documentKey !== undefined ? { documentKey: params.documentKey } : {}),
          ...(params.progressId !== undefined ? { onFirstWindow: firstWindow(params.progressId) } : {}),
          signal: abort.signal,
          onProgress: progress(params.progressId),
        });
        return packTrace(trace);
      } catch (err) {
        if (abort.signal.aborted) {
          throw cancelled();
        }
        throw new ResponseError(EngineErrorCodes.AnalyzeFailed, message(err));
      } finally {
        abort.dispose();
      }
    }),
  );

  connection.onRequest(CounterfactualRequest.type, (raw, token) =>
    serial(async (): Promise<CounterfactualResult> => {
      let params;
      try {
        params = checkCounterfactualParams(raw);
      } catch (err) {
        return badParams(err);
      }
      if (!loaded) {
        throw new ResponseError(EngineErrorCodes.NoModel, 'No model is loaded: send moeLens/loadModel first.');
      }
      const run = loaded.model.counterfactual?.bind(loaded.model);
      if (!run) {
        throw new ResponseError(EngineErrorCodes.AnalyzeFailed, 'this engine runtime cannot run counterfactuals');
      }
      if (token.isCancellationRequested) {
        throw cancelled();
      }
      const abort = abortSignalFor(token);
      try {
        return await run(params.text, params.mode, { specialTokensInText: params.specialTokensInText, signal: abort.signal, onProgress: progress(params.progressId) });
      } catch (err) {
        if (abort.signal.aborted) {
          throw cancelled();
        }
        // The mode grammar is the engine's (it needs the model's E and layers): a bad one is bad params.
        throw new ResponseError(/^bad mode/.test(message(err)) ? -32602 : EngineErrorCodes.AnalyzeFailed, message(err));
      } finally {
        abort.dispose();
      }
    }),
  );

  // No model needed: a saved trace is read, validated by the one validator, and sent packed.
  connection.onRequest(ReadTraceRequest.type, (raw) =>
    serial(async (): Promise<PackedTrace> => {
      let params;
      try {
        params = checkReadTraceParams(raw);
      } catch (err) {
        return badParams(err);
      }
      try {
        const bytes = await readRegularFile(params.path, { maxBytes: MAX_TRACE_BYTES, what: 'the trace file' });
        return packTrace(readTraceJson(decodeUtf8(bytes, params.path, 'the trace file')));
      } catch (err) {
        throw new ResponseError(EngineErrorCodes.BadTrace, err instanceof FileReadError ? err.message : message(err));
      }
    }),
  );

  connection.onRequest(ListModelsRequest.type, (raw) =>
    serial(async () => {
      let params;
      try {
        params = checkListModelsParams(raw);
      } catch (err) {
        return badParams(err);
      }
      const hubDir = params.hubDir ?? defaultHubDir(opts.env);
      const ollamaDir = defaultOllamaDir(opts.env);
      const lmStudioDir = defaultLmStudioDir(opts.env?.HOME);
      const models = [
        ...(await scanHubCache(hubDir)),
        ...(await scanHubGguf(hubDir)),
        ...(ollamaDir ? await scanOllama(ollamaDir) : []),
        ...(lmStudioDir ? await scanLmStudio(lmStudioDir) : []),
      ];
      return { hubDir, ollamaDir, lmStudioDir, models };
    }),
  );

  // Not serialised: headers only, so Select Model lists plans while a long analysis runs.
  connection.onRequest(DescribeModelsRequest.type, async (raw) => {
    let params;
    try {
      params = checkDescribeModelsParams(raw);
    } catch (err) {
      return badParams(err);
    }
    const describe = runtime.describe?.bind(runtime);
    const models: DescribedModel[] = [];
    for (const asked of params.paths) {
      try {
        if (!describe) {
          throw new Error('this engine runtime cannot describe models');
        }
        const dir = await realpathOr(asked ?? runtime.defaultModelDir());
        const root = await rootContaining(dir, params.forbiddenRoots ?? []);
        if (root !== undefined) {
          throw new Error(`${dir} lies in the untrusted workspace folder ${root}`);
        }
        models.push({ path: asked, info: await describe(dir, params.backend), error: null });
      } catch (err) {
        models.push({ path: asked, info: null, error: message(err) });
      }
    }
    return { models };
  });

  // Not serialised: the host asks for status while an analysis runs.
  connection.onRequest(StatusRequest.type, () => {
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      model: loaded ? loaded.model.info.path : null,
      backend: loaded ? loaded.model.backend : null,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
    };
  });

  connection.onRequest(ShutdownRequest.type, () => {
    loaded?.model.dispose();
    loaded = null;
    // Exit after the answer has been written.
    setTimeout(opts.exit, 20);
  });
}
