/**
 * @file Counterfactual routing for the panels and the hover: runs a mode the user picked over the
 * analysed document in the engine process (one request per analysis window, progress in a
 * cancellable notification and in the panels), keeps the result per document, and drops it when
 * the document is re-analysed or closed. A cancelled or failed run leaves the previous results as
 * they were: nothing partial is kept.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CounterfactualPassDoc, CounterfactualSweepDoc } from '../shared/counterfactual';
import {
  EMPTY_COUNTERFACTUALS,
  choiceProblem,
  modeText,
  type CounterfactualChoice,
  type CounterfactualOverlay,
  type CounterfactualState,
} from '../shared/counterfactualView';
import type { Analyzer } from './analyzer';
import { readConfig } from './config';
import { CancelledError, EngineCrashedError, type EngineClient } from './engineClient';
import { alignTokens, combineSweeps, mergePasses, windowSlices, type WindowPass, type WindowSweep } from './pure/counterfactualWindows';
import type { RoutingStore } from './routingStore';

interface Entry {
  /** The analysed version the results belong to. */
  version: number;
  state: CounterfactualState;
  abort?: AbortController;
}

export interface CounterfactualProgress {
  uri: string;
  fraction: number;
  message: string;
}

export class Counterfactuals implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly changeEmitter = new vscode.EventEmitter<{ uri: string; state: CounterfactualState }>();
  private readonly progressEmitter = new vscode.EventEmitter<CounterfactualProgress>();
  private readonly disposables: vscode.Disposable[] = [];
  private seq = 0;

  /** A document's counterfactuals changed (result, run started or ended, dropped). */
  readonly onDidChange = this.changeEmitter.event;
  readonly onDidProgress = this.progressEmitter.event;

  constructor(
    private readonly store: RoutingStore,
    private readonly engine: EngineClient,
    private readonly analyzer: Pick<Analyzer, 'modelParams'>,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      // Spans and tokens of a new analysis differ from the ones the results were laid over.
      store.onDidChangeAnalysis((a) => {
        const e = this.entries.get(a.uri);
        if (e && e.version !== a.version) {
          this.drop(a.uri);
        }
      }),
      store.onDidClearAnalysis((uri) => this.drop(uri)),
    );
  }

  get(uri: string): CounterfactualState {
    return this.entries.get(uri)?.state ?? EMPTY_COUNTERFACTUALS;
  }

  /** The pass the hover and the token colours show, if any. */
  active(uri: string): CounterfactualOverlay | null {
    return this.entries.get(uri)?.state.active ?? null;
  }

  cancel(uri: string): void {
    this.entries.get(uri)?.abort?.abort();
  }

  /** Runs `choice` over the analysed document; resolves when it is stored, cancelled or failed. */
  async run(uri: string, choice: CounterfactualChoice): Promise<void> {
    const analysis = this.store.get(uri);
    if (!analysis) {
      return;
    }
    const entry = this.entry(uri, analysis.version);
    const mode = modeText(choice);
    if (mode === null) {
      entry.abort?.abort();
      this.update(uri, { active: null, note: null });
      return;
    }
    const problem = choiceProblem(choice, analysis.trace.model);
    if (problem) {
      this.update(uri, { note: `${mode}: ${problem}` });
      return;
    }
    const text = analysis.text;
    if (text === null) {
      // A trace opened from a file has no text to re-run the network on.
      this.update(uri, { note: `${mode}: a trace opened from a file cannot be re-run; analyse the document itself` });
      return;
    }
    entry.abort?.abort();
    const abort = new AbortController();
    entry.abort = abort;
    const name = path.basename(vscode.Uri.parse(uri).path) || uri;
    const started = performance.now();
    this.update(uri, { running: { choice, fraction: 0, message: 'starting' }, note: null });
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `MoE Lens: counterfactual ${mode} on ${name}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => abort.abort());
          let shown = 0;
          const report = (fraction: number, message: string): void => {
            const pct = Math.round(fraction * 100);
            progress.report({ increment: Math.max(0, pct - shown), message });
            shown = Math.max(shown, pct);
            const e = this.entries.get(uri);
            if (e?.abort === abort && e.state.running) {
              e.state = { ...e.state, running: { ...e.state.running, fraction, message } };
              this.progressEmitter.fire({ uri, fraction, message });
            }
          };
          const result = await this.passes(analysis.trace, text, choice, mode, abort.signal, report);
          if (this.store.get(uri)?.version !== analysis.version || this.entries.get(uri)?.abort !== abort) {
            return; // re-analysed or superseded meanwhile: these results describe other tokens
          }
          this.update(uri, result);
          this.output.info(`counterfactual ${mode} on ${name}: ${Math.round(performance.now() - started)} ms`);
        },
      );
    } catch (err) {
      if (this.entries.get(uri)?.abort === abort) {
        this.update(uri, { note: err instanceof CancelledError || abort.signal.aborted ? `${mode}: cancelled; partial results discarded` : `${mode}: ${message(err)}` });
      }
      if (!(err instanceof CancelledError) && !abort.signal.aborted) {
        this.output.error(`counterfactual ${mode} failed: ${message(err)}`);
        // Crashes are announced once by the engine watcher.
        if (!(err instanceof EngineCrashedError)) {
          void vscode.window.showErrorMessage(`MoE Lens: counterfactual ${mode}: ${message(err)}`);
        }
      }
    } finally {
      const e = this.entries.get(uri);
      if (e?.abort === abort) {
        e.abort = undefined;
        this.update(uri, { running: null });
      }
    }
  }

  /** One engine request per window; a sweep's passes run inside each request, cancellable between them. */
  private async passes(
    trace: Parameters<typeof windowSlices>[0],
    text: string,
    choice: CounterfactualChoice,
    mode: string,
    signal: AbortSignal,
    report: (fraction: number, message: string) => void,
  ): Promise<Partial<CounterfactualState>> {
    const slices = windowSlices(trace, text);
    const W = slices.length;
    const model = this.analyzer.modelParams();
    const special = readConfig().specialTokensInText;
    const passes: WindowPass[] = [];
    const sweeps: WindowSweep[] = [];
    const id = `cf${++this.seq}`;
    for (const [w, slice] of slices.entries()) {
      if (signal.aborted) {
        throw new CancelledError();
      }
      const sub = this.engine.onDidProgress((p) => {
        if (p.progressId === `${id}:${w}`) {
          report((w + p.fraction) / W, W > 1 ? `window ${w + 1}/${W}: ${p.message}` : p.message);
        }
      });
      try {
        const r = await this.engine.counterfactual(model, { text: slice.text, mode, specialTokensInText: special, progressId: `${id}:${w}` }, signal);
        const loaded = this.engine.loadedModel?.info.path;
        if (loaded !== undefined && loaded !== trace.model.path) {
          // Another model's tokens and routing would be laid over this analysis: refuse instead.
          throw new Error(`the model changed since the analysis (${trace.model.path} → ${loaded}); analyse the document again`);
        }
        const doc = r.counterfactual;
        if ('passes' in doc) {
          sweeps.push({ doc: doc as CounterfactualSweepDoc, tokens: r.tokens.length });
        } else {
          passes.push({ doc: doc as CounterfactualPassDoc, toTrace: alignTokens(trace, slice, r.tokens) });
        }
      } finally {
        sub.dispose();
      }
    }
    if (choice.kind === 'sweep-k') {
      return { kSweep: combineSweeps('sweep-k', null, sweeps) };
    }
    if (choice.kind === 'ablate-each') {
      return { ablateEach: combineSweeps('ablate-each', choice.layer, sweeps) };
    }
    return { active: mergePasses(trace.tokens.length, choice, passes) };
  }

  private entry(uri: string, version: number): Entry {
    let e = this.entries.get(uri);
    if (!e || e.version !== version) {
      e?.abort?.abort();
      e = { version, state: EMPTY_COUNTERFACTUALS };
      this.entries.set(uri, e);
    }
    return e;
  }

  private update(uri: string, patch: Partial<CounterfactualState>): void {
    const e = this.entries.get(uri);
    if (!e) {
      return;
    }
    e.state = { ...e.state, ...patch };
    this.changeEmitter.fire({ uri, state: e.state });
  }

  private drop(uri: string): void {
    const e = this.entries.get(uri);
    if (e) {
      e.abort?.abort();
      this.entries.delete(uri);
      this.changeEmitter.fire({ uri, state: EMPTY_COUNTERFACTUALS });
    }
  }

  dispose(): void {
    for (const e of this.entries.values()) {
      e.abort?.abort();
    }
    this.changeEmitter.dispose();
    this.progressEmitter.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
