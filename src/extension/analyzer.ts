/**
 * @file Runs analyses of documents on the engine: one running and one waiting per document (the
 * AnalysisQueue), an edit cancels the running one, live mode re-analyses ≈250 ms after typing
 * stops. Interactive runs show a cancellable notification with percent; results go to the store.
 * A model that streams from disk (pure/streamGate.ts) is analysed only on command, after a modal
 * confirmation the first time; live mode and analyze-on-open skip it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { effectiveLayer } from '../shared/effectiveLayer';
import type { AnalyzeParams, LoadModelParams } from '../shared/engineProtocol';
import type { ModelPlanInfo } from '../shared/modelPlanText';
import type { RoutingTrace } from '../shared/trace';
import { readConfig, type MoeLensConfig } from './config';
import { CancelledError, EngineCrashedError, EngineGaveUpError, type EngineClient } from './engineClient';
import { AnalysisQueue, type Outcome } from './pure/analysisQueue';
import { confirmText, estimateStreamedRun, streamGate } from './pure/streamGate';
import type { RoutingStore } from './routingStore';

interface Job {
  document: vscode.TextDocument;
  version: number;
  text: string;
  model: LoadModelParams;
  params: AnalyzeParams;
  /** The first window's trace, stored while the rest ran (a long document); dropped if the job ends without its full trace. */
  partial?: RoutingTrace;
}

interface Result {
  trace: RoutingTrace;
  ms: number;
}

/** When (Date.now()) an analysis was sent, its first window stored, its whole trace stored (moeLens.debug.stats). */
export interface AnalysisTimeline {
  sent: number;
  firstWindow?: number;
  answered?: number;
}

export const LIVE_DEBOUNCE_MS = 250;
/** Live mode leaves very large documents alone; the command still analyses them. */
const LIVE_MAX_CHARS = 200_000;

export interface Busy {
  uri: string;
  fraction: number;
  message: string;
}

export class Analyzer implements vscode.Disposable {
  private readonly queue: AnalysisQueue<Job, Result>;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly busyEmitter = new vscode.EventEmitter<Busy | undefined>();
  private seq = 0;
  private current: Busy | undefined;
  /** Documents the user analysed at least once: live mode follows these. */
  private readonly followed = new Set<string>();
  /** uri → its last analysis' timeline (bench/editorOpen). */
  readonly timeline = new Map<string, AnalysisTimeline>();
  /** The last layer preference applied from settings, so a user's pick is not overridden by every analysis. */
  private appliedLayerSetting: number | undefined;
  /** Streamed models the user agreed to analyse (this session), and those live mode said it skips. */
  private readonly streamConfirmed = new Set<string>();
  private readonly streamSkipLogged = new Set<string>();

  readonly onDidChangeBusy = this.busyEmitter.event;

  constructor(
    private readonly store: RoutingStore,
    private readonly engine: EngineClient,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.queue = new AnalysisQueue((key, job, signal) => this.run(key, job, signal));
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        const uri = d.uri.toString();
        this.queue.cancel(uri);
        this.followed.delete(uri);
        this.timeline.delete(uri);
        this.store.clear(uri);
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => this.onActiveEditor(editor)),
    );
    this.onActiveEditor(vscode.window.activeTextEditor);
  }

  /** Live mode and analyzeOnOpen analyse a document the first time an editor shows it. */
  private onActiveEditor(editor: vscode.TextEditor | undefined): void {
    const cfg = readConfig();
    const uri = editor?.document.uri.toString();
    if (editor && uri && (cfg.liveMode || cfg.analyzeOnOpen) && !this.store.get(uri) && !this.queue.isRunning(uri) && isAnalysable(editor.document)) {
      this.followed.add(uri);
      this.schedule(editor.document, 0);
    }
  }

  get busy(): Busy | undefined {
    return this.current;
  }

  /** Running plus waiting analyses over all documents. */
  get queueLength(): number {
    return this.queue.length;
  }

  /** The model settings resolve to, with the untrusted-workspace guard for the engine. */
  modelParams(cfg: MoeLensConfig = readConfig()): LoadModelParams {
    const forbiddenRoots = vscode.workspace.isTrusted ? [] : (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    return {
      path: cfg.modelPath ? path.resolve(cfg.modelPath) : null,
      backend: cfg.backend,
      ...(forbiddenRoots.length > 0 ? { forbiddenRoots } : {}),
    };
  }

  /**
   * Analyses `document` now (interactive: a cancellable notification, errors shown) and resolves
   * to whether its result was stored (false when it was cancelled, superseded or failed).
   */
  async analyze(document: vscode.TextDocument, interactive: boolean): Promise<boolean> {
    const uri = document.uri.toString();
    this.followed.add(uri);
    const job = this.makeJob(document);
    if (!(await this.mayStream(job, interactive))) {
      return false;
    }
    const name = path.basename(document.uri.path) || uri;
    const outcome = interactive
      ? await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `MoE Lens: analysing ${name}`, cancellable: true },
          async (progress, token) => {
            token.onCancellationRequested(() => this.queue.cancel(uri));
            let last = 0;
            const sub = this.onDidChangeBusy((b) => {
              if (b && b.uri === uri) {
                const pct = Math.round(b.fraction * 100);
                progress.report({ increment: Math.max(0, pct - last), message: b.message });
                last = Math.max(last, pct);
              }
            });
            try {
              return await this.queue.submit(uri, job);
            } finally {
              sub.dispose();
            }
          },
        )
      : await this.queue.submit(uri, job);
    return this.finish(document, job, outcome, interactive);
  }

  /**
   * Whether to go ahead, given the model's memory plan (asked of the engine, from the headers): a
   * streamed model needs the user's yes once (command) and is never analysed by live mode or on open.
   * When the plan cannot be had (bad folder, untrusted), the analysis goes ahead and reports the error.
   */
  private async mayStream(job: Job, interactive: boolean): Promise<boolean> {
    let info: ModelPlanInfo | null = null;
    try {
      const { forbiddenRoots } = job.model;
      info = (await this.engine.describeModels({ paths: [job.model.path], backend: job.model.backend, ...(forbiddenRoots ? { forbiddenRoots } : {}) })).models[0]?.info ?? null;
    } catch (err) {
      this.output.warn(`could not read the model's memory plan: ${err instanceof Error ? err.message : String(err)}`);
    }
    const key = JSON.stringify([job.model.path, job.model.backend]);
    const gate = streamGate(info?.plan.mode, interactive ? 'command' : 'live', this.streamConfirmed.has(key));
    if (gate === 'run' || !info) {
      return true;
    }
    const name = job.model.path ? path.basename(job.model.path) : 'the embedded model';
    if (gate === 'skip') {
      if (!this.streamSkipLogged.has(key)) {
        this.streamSkipLogged.add(key);
        this.output.info(`live mode and analyze-on-open are off for ${name}: it streams from disk under the memory budget; use "MoE Lens: Analyze Current Document"`);
      }
      return false;
    }
    const { message, detail } = confirmText(name, info, estimateStreamedRun(info.plan, job.text.length), readConfig().requestTimeoutSeconds);
    const pick = await vscode.window.showWarningMessage(message, { modal: true, detail }, 'Analyse');
    if (pick !== 'Analyse') {
      return false;
    }
    this.streamConfirmed.add(key);
    return true;
  }

  /** Cancels the analysis of one document, or of all. */
  cancel(uri?: string): boolean {
    if (uri) {
      return this.queue.cancel(uri);
    }
    const had = this.queue.length > 0;
    this.queue.cancelAll();
    return had;
  }

  private makeJob(document: vscode.TextDocument): Job {
    const cfg = readConfig();
    return {
      document,
      version: document.version,
      text: document.getText(),
      model: this.modelParams(cfg),
      // The window settings as set: the engine resolves them with the model's context (resolveWindows).
      // documentKey: the engine reuses this document's last analysis up to the first changed token.
      params: { text: '', windowSize: cfg.maxTokensPerWindow, windowOverlap: cfg.windowOverlap, specialTokensInText: cfg.specialTokensInText, documentKey: document.uri.toString() },
    };
  }

  private async run(uri: string, job: Job, signal: AbortSignal): Promise<Result> {
    const id = `a${++this.seq}`;
    const started = performance.now();
    this.setBusy({ uri, fraction: 0, message: 'starting' });
    const times: AnalysisTimeline = { sent: Date.now() };
    this.timeline.set(uri, times);
    // A long document's first window shows as soon as it is done; the full trace replaces it. The
    // listener goes with the answer, so a first window that comes later is dropped.
    const partialSub = this.engine.onDidPartialTrace?.((p) => {
      if (p.progressId === `${id}:run` && !signal.aborted && !job.document.isClosed && job.document.version === job.version) {
        job.partial = p.trace;
        times.firstWindow = Date.now();
        this.store.set({ uri, version: job.version, text: job.text, languageId: job.document.languageId, trace: p.trace });
      }
    });
    const sub = this.engine.onDidProgress((p) => {
      if (p.progressId === `${id}:load`) {
        this.setBusy({ uri, fraction: 0, message: `loading model: ${Math.round(p.fraction * 100)} %` });
      } else if (p.progressId === `${id}:run`) {
        this.setBusy({ uri, fraction: p.fraction, message: p.message });
      }
    });
    try {
      const { trace } = await this.engine.analyze(
        { ...job.model, progressId: `${id}:load` },
        { ...job.params, text: job.text, progressId: `${id}:run` },
        signal,
      );
      return { trace, ms: performance.now() - started };
    } finally {
      sub.dispose();
      partialSub?.dispose();
      this.setBusy(undefined);
    }
  }

  private finish(document: vscode.TextDocument, job: Job, outcome: Outcome<Result>, interactive: boolean): boolean {
    const uri = document.uri.toString();
    const stored = this.complete(document, job, outcome, interactive);
    if (!stored && job.partial && this.store.get(uri)?.trace === job.partial) {
      this.store.clear(uri); // its first window alone, from a run that failed or was cancelled
    }
    return stored;
  }

  private complete(document: vscode.TextDocument, job: Job, outcome: Outcome<Result>, interactive: boolean): boolean {
    const uri = document.uri.toString();
    if (outcome.kind === 'failed') {
      this.report(outcome.error, interactive);
      return false;
    }
    if (outcome.kind !== 'done') {
      return false;
    }
    const { trace, ms } = outcome.value;
    // An edit that slipped in after the engine answered makes the spans wrong: drop the result.
    if (document.isClosed || document.version !== job.version) {
      return false;
    }
    this.store.set({ uri, version: job.version, text: job.text, languageId: document.languageId, trace });
    const times = this.timeline.get(uri);
    if (times) {
      times.answered = Date.now();
    }
    this.applyLayerSetting(trace);
    this.output.info(`${path.basename(document.uri.path)}: ${trace.tokens.length} tokens, ${trace.layers.length} layers, ${Math.round(ms)} ms (${trace.backend})`);
    return true;
  }

  private applyLayerSetting(trace: RoutingTrace): void {
    const wanted = readConfig().selectedLayer;
    if (wanted >= 0 && wanted !== this.appliedLayerSetting && effectiveLayer(trace, wanted) === wanted) {
      this.appliedLayerSetting = wanted;
      this.store.selectLayer(wanted);
    }
  }

  private report(error: unknown, interactive: boolean): void {
    if (error instanceof CancelledError) {
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.output.error(`analysis failed: ${message}`);
    if (interactive && error instanceof EngineGaveUpError) {
      void vscode.window.showErrorMessage(`MoE Lens: ${message}`, 'Restart Engine').then((pick) => {
        if (pick) {
          void vscode.commands.executeCommand('moeLens.restartEngine');
        }
      });
      return;
    }
    // Crashes are announced once by the engine watcher; repeating them per request is noise.
    if (interactive && !(error instanceof EngineCrashedError)) {
      void vscode.window.showErrorMessage(`MoE Lens: ${message}`, 'Select Model…', 'Show Log').then((pick) => {
        if (pick === 'Select Model…') {
          void vscode.commands.executeCommand('moeLens.selectModel');
        } else if (pick === 'Show Log') {
          this.output.show();
        }
      });
    }
  }

  private setBusy(b: Busy | undefined): void {
    this.current = b;
    this.busyEmitter.fire(b);
  }

  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) {
      return;
    }
    const uri = e.document.uri.toString();
    // The running analysis describes text that no longer exists.
    this.queue.cancelRunning(uri);
    if (readConfig().liveMode && this.followed.has(uri) && isAnalysable(e.document)) {
      this.schedule(e.document, LIVE_DEBOUNCE_MS);
    }
  }

  private schedule(document: vscode.TextDocument, delayMs: number): void {
    const uri = document.uri.toString();
    clearTimeout(this.timers.get(uri));
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        if (!document.isClosed) {
          void this.analyze(document, false);
        }
      }, delayMs),
    );
  }

  dispose(): void {
    for (const t of this.timers.values()) {
      clearTimeout(t);
    }
    this.queue.cancelAll();
    this.busyEmitter.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

function isAnalysable(document: vscode.TextDocument): boolean {
  if (!['file', 'untitled', 'vscode-remote'].includes(document.uri.scheme)) {
    return false;
  }
  // offsetAt of the end is the length without copying the text on every keystroke.
  return document.offsetAt(document.lineAt(document.lineCount - 1).range.end) <= LIVE_MAX_CHARS;
}
