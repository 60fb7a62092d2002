/**
 * @file "MoE Lens: Open Trace File…" and "MoE Lens: Compare With…".
 *
 * Open Trace File shows a saved or imported `moe-lens.trace/1` file in the panels. The engine process
 * reads and validates it (a trace of hundreds of MB would stall the extension host), and it is stored
 * under its own `moe-lens-trace:` uri, so no editor document is decorated with spans from another text.
 *
 * Compare With puts two analyses side by side in the dashboard: the active document against another
 * open document (or an opened trace), or against the same document on another model. The engine
 * holds one model at a time, so the second model runs after the first and the next analysis loads
 * the first again; the view says so. The comparison itself is pure (src/shared/traceCompare.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LoadModelParams } from '../shared/engineProtocol';
import type { RoutingTrace } from '../shared/trace';
import { compareTraces, type CompareInput, type TraceComparison } from '../shared/traceCompare';
import { missingParts, traceFields } from '../shared/traceFields';
import type { Analyzer } from './analyzer';
import { readConfig } from './config';
import type { EngineClient } from './engineClient';
import type { Panels } from './panels/panels';
import type { DocumentAnalysis, RoutingStore } from './routingStore';

/** Scheme of a trace opened from a file: no editor has such a document, so nothing is decorated. */
export const TRACE_SCHEME = 'moe-lens-trace';

export interface TraceCommandDeps {
  store: RoutingStore;
  engine: EngineClient;
  analyzer: Analyzer;
  panels: Panels;
  output: vscode.LogOutputChannel;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const nameOf = (uri: string): string => path.basename(vscode.Uri.parse(uri).path) || uri;

/** One side of a comparison: what it shows, and how a clicked token is revealed. */
interface Side extends CompareInput {
  /** The document version the trace was computed for (its spans index that text), or null for an opened trace. */
  version: number | null;
}

function sideOf(a: DocumentAnalysis, model?: string): Side {
  return {
    side: { uri: a.uri, label: nameOf(a.uri), model: model ?? a.trace.model.name, tokens: a.trace.tokens.length },
    trace: a.trace,
    text: a.text,
    version: vscode.Uri.parse(a.uri).scheme === TRACE_SCHEME ? null : a.version,
  };
}

export function registerTraceCommands(context: vscode.ExtensionContext, deps: TraceCommandDeps): void {
  const { store, engine, analyzer, panels, output } = deps;
  const register = (id: string, fn: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };

  register('moeLens.openTraceFile', async (arg?: unknown): Promise<string | undefined> => {
    let file: vscode.Uri | undefined = arg instanceof vscode.Uri ? arg : typeof arg === 'string' ? vscode.Uri.file(arg) : undefined;
    if (!file) {
      const picked = await vscode.window.showOpenDialog({
        canSelectFiles: true,
        canSelectFolders: false,
        canSelectMany: false,
        filters: { 'MoE Lens trace (moe-lens.trace/1)': ['json'] },
        openLabel: 'Open Trace',
        title: 'MoE Lens: Open Trace File',
      });
      file = picked?.[0];
    }
    if (!file) {
      return undefined;
    }
    if (file.scheme !== 'file') {
      void vscode.window.showErrorMessage('MoE Lens: only trace files on this machine can be opened.');
      return undefined;
    }
    const name = path.basename(file.fsPath);
    const trace = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `MoE Lens: reading ${name}`, cancellable: true },
      async (_progress, token): Promise<RoutingTrace | undefined> => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        try {
          return await engine.readTrace(file.fsPath, ac.signal);
        } catch (err) {
          if (!ac.signal.aborted) {
            void vscode.window.showErrorMessage(`MoE Lens: cannot open ${name}: ${errorText(err)}`);
          }
          return undefined;
        }
      },
    );
    if (!trace) {
      return undefined;
    }
    const uri = vscode.Uri.from({ scheme: TRACE_SCHEME, path: file.fsPath }).toString();
    store.set({ uri, version: 0, text: null, languageId: 'json', trace });
    panels.showRouting();
    panels.showDashboard();
    const missing = missingParts(traceFields(trace), ['weights', 'scores', 'sharedWeight', 'ids', 'spans', 'surprisal']);
    output.info(`opened trace ${file.fsPath}: ${trace.tokens.length} tokens, ${trace.model.name}${missing.length ? `; not in it: ${missing.join(', ')}` : ''}`);
    void vscode.window.showInformationMessage(
      `MoE Lens: ${name} — ${trace.tokens.length} tokens, ${trace.model.name}${missing.length ? `. Not in this trace: ${missing.join(', ')}.` : '.'}`,
    );
    return uri;
  });

  register('moeLens.compareWith', async (arg?: unknown): Promise<TraceComparison | undefined> => {
    const a = await currentAnalysis(store, analyzer);
    if (!a) {
      void vscode.window.showInformationMessage('MoE Lens: open a document (or a trace file) to compare first.');
      return undefined;
    }
    const target = typeof arg === 'string' || arg instanceof vscode.Uri ? { uri: arg.toString() } : await pickTarget(store, a);
    if (!target) {
      return undefined;
    }
    let sides: [Side, Side] | undefined;
    let note: string | null = null;
    if ('model' in target) {
      const other = await otherModelSide(engine, analyzer, a, target.model, output);
      if (!other) {
        return undefined;
      }
      sides = [sideOf(a), other.side];
      note = other.note;
    } else {
      const b = await analysisOf(store, analyzer, target.uri);
      if (!b) {
        return undefined;
      }
      sides = [sideOf(a), sideOf(b)];
    }
    const comparison = compareTraces(sides[0], sides[1], note);
    panels.showCompare(comparison, (side, t) => void revealToken(store, side === 'a' ? sides[0] : sides[1], t));
    return comparison;
  });
}

/** The active document's analysis (analysed now when it has none), else the latest stored one. */
async function currentAnalysis(store: RoutingStore, analyzer: Analyzer): Promise<DocumentAnalysis | undefined> {
  const doc = vscode.window.activeTextEditor?.document;
  if (doc) {
    const uri = doc.uri.toString();
    const have = store.get(uri);
    if (have && have.version === doc.version) {
      return have;
    }
    if (doc.getText().trim().length > 0 && (await analyzer.analyze(doc, true))) {
      return store.get(uri);
    }
    return undefined;
  }
  return store.latest();
}

type Target = { uri: string } | { model: LoadModelParams['path'] };

/** Quick pick: another open document or opened trace, or this document on another model. */
async function pickTarget(store: RoutingStore, a: DocumentAnalysis): Promise<Target | undefined> {
  type Item = vscode.QuickPickItem & { target?: Target; chooseFolder?: boolean };
  const docs: Item[] = vscode.workspace.textDocuments
    .filter((d) => d.uri.toString() !== a.uri && (d.uri.scheme === 'file' || d.uri.scheme === 'untitled') && d.getText().trim().length > 0)
    .map((d) => ({
      label: `$(file) ${path.basename(d.uri.path)}`,
      description: store.get(d.uri.toString())?.version === d.version ? 'analysed' : 'will be analysed',
      detail: d.uri.scheme === 'file' ? d.uri.fsPath : d.uri.toString(),
      target: { uri: d.uri.toString() },
    }));
  const traces: Item[] = [];
  for (const d of store.all().filter((x) => x.uri !== a.uri && vscode.Uri.parse(x.uri).scheme === TRACE_SCHEME)) {
    traces.push({ label: `$(json) ${nameOf(d.uri)}`, description: 'opened trace', target: { uri: d.uri } });
  }
  const items: Item[] = [
    ...docs,
    ...traces,
    { label: 'The same document on another model', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(package) Embedded demo model', description: `${nameOf(a.uri)} on the demo model`, target: { model: null } },
    { label: '$(folder-opened) Choose a model folder…', description: `${nameOf(a.uri)} on a Hugging Face model folder`, chooseFolder: true },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: `MoE Lens: Compare ${nameOf(a.uri)} With…`, placeHolder: 'Another open document, or this document on another model' });
  if (!pick) {
    return undefined;
  }
  if (pick.chooseFolder) {
    const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Compare with this model', title: 'MoE Lens: model folder' });
    return uris?.[0] ? { model: uris[0].fsPath } : undefined;
  }
  return pick.target;
}

/** The stored analysis of `uri`, analysing the open document first when it has none (or a stale one). */
async function analysisOf(store: RoutingStore, analyzer: Analyzer, uri: string): Promise<DocumentAnalysis | undefined> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
  const have = store.get(uri);
  if (!doc) {
    if (!have) {
      void vscode.window.showErrorMessage(`MoE Lens: ${nameOf(uri)} is not open.`);
    }
    return have;
  }
  if (have && have.version === doc.version) {
    return have;
  }
  return (await analyzer.analyze(doc, true)) ? store.get(uri) : undefined;
}

/** `a`'s document run on another model, in the engine process, one model after the other. */
async function otherModelSide(engine: EngineClient, analyzer: Analyzer, a: DocumentAnalysis, modelPath: string | null, output: vscode.LogOutputChannel): Promise<{ side: Side; note: string } | undefined> {
  if (a.text === null) {
    void vscode.window.showInformationMessage('MoE Lens: a trace opened from a file has no document to run on another model.');
    return undefined;
  }
  const cfg = readConfig();
  const model: LoadModelParams = { ...analyzer.modelParams(cfg), path: modelPath === null ? null : path.resolve(modelPath) };
  const text = a.text;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `MoE Lens: ${nameOf(a.uri)} on another model`, cancellable: true },
    async (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      progress.report({ message: 'loading the model (the engine holds one model at a time)' });
      try {
        const res = await engine.analyze(
          model,
          { text, windowSize: cfg.maxTokensPerWindow, windowOverlap: cfg.windowOverlap, specialTokensInText: cfg.specialTokensInText },
          ac.signal,
        );
        const note =
          res.model.info.path === a.trace.model.path
            ? `Both sides ran on ${res.model.info.name}, the same model (B just now, in the engine process).`
            : `${res.model.info.name} ran after ${a.trace.model.name}, one after the other: the engine holds one model at a time, so the next analysis loads ${a.trace.model.name} again.`;
        output.info(`compare: ${nameOf(a.uri)} on ${res.model.info.path} (${res.trace.tokens.length} tokens)`);
        const b: DocumentAnalysis = { uri: a.uri, version: a.version, text, languageId: a.languageId, trace: res.trace };
        return { side: sideOf(b, res.model.info.name), note };
      } catch (err) {
        if (!ac.signal.aborted) {
          void vscode.window.showErrorMessage(`MoE Lens: ${errorText(err)}`);
        }
        return undefined;
      }
    },
  );
}

/**
 * Reveals token `t` of one side: through the store when that side is the stored analysis (the
 * editor and the panels follow, with spans kept current through edits); else (the other model's
 * trace of the same document) by its span, while the document is still the version it was run on.
 */
async function revealToken(store: RoutingStore, side: Side, t: number): Promise<void> {
  const stored = store.get(side.side.uri);
  if (stored && stored.trace === side.trace) {
    store.selectToken({ uri: side.side.uri, tokenIndex: t, source: 'dashboard' });
    return;
  }
  const tok = side.trace.tokens[t];
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === side.side.uri);
  if (!tok || tok.start === null || tok.end === null || !doc) {
    return;
  }
  if (doc.version !== side.version) {
    void vscode.window.showInformationMessage('MoE Lens: the document changed since the comparison; run Compare With… again.');
    return;
  }
  const editor = await vscode.window.showTextDocument(doc, { preserveFocus: false, preview: true, viewColumn: vscode.ViewColumn.One });
  const range = new vscode.Range(doc.positionAt(tok.start), doc.positionAt(tok.end));
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}
