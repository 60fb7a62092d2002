/**
 * @file Every MoE Lens command (ids moeLens.*, palette category "MoE Lens"); Open Trace File and
 * Compare With are in traceCommands.ts, the tests' own commands in testCommands.ts. Commands stay thin: the work is in the analyzer, the engine
 * client, the decoration controller and the panels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as vscode from 'vscode';
import type { CachedModel, DescribedModel } from '../shared/engineProtocol';
import { rootContaining } from '../shared/insidePath';
import type { RoutingTrace } from '../shared/trace';
import { traceJsonPieces } from '../shared/traceJson';
import type { Analyzer } from './analyzer';
import { isModelFileOrFolder } from './pure/modelPath';
import { readConfig } from './config';
import type { DecorationController } from './decorationController';
import type { EngineClient } from './engineClient';
import type { Panels } from './panels/panels';
import { modelDescription, modelDetail } from './pure/modelPick';
import type { RoutingStore } from './routingStore';
import { registerTraceCommands } from './traceCommands';

/** Writes the trace in pieces: a long trace is longer than the longest string V8 can build. */
async function writeTraceFile(target: vscode.Uri, trace: RoutingTrace): Promise<void> {
  if (target.scheme === 'file') {
    await pipeline(Readable.from(traceJsonPieces(trace, 1)), fs.createWriteStream(target.fsPath));
  } else {
    await vscode.workspace.fs.writeFile(target, Buffer.concat([...traceJsonPieces(trace, 1)].map((p) => Buffer.from(p, 'utf8'))));
  }
}

export interface CommandDeps {
  store: RoutingStore;
  engine: EngineClient;
  analyzer: Analyzer;
  decorations: DecorationController;
  panels: Panels;
  output: vscode.LogOutputChannel;
}

function activeDocument(arg?: unknown): vscode.TextDocument | undefined {
  if (arg instanceof vscode.Uri) {
    return vscode.workspace.textDocuments.find((d) => d.uri.toString() === arg.toString());
  }
  if (typeof arg === 'string') {
    return vscode.workspace.textDocuments.find((d) => d.uri.toString() === arg);
  }
  return vscode.window.activeTextEditor?.document;
}

async function openDocument(arg?: unknown): Promise<vscode.TextDocument | undefined> {
  const doc = activeDocument(arg);
  if (doc) {
    return doc;
  }
  if (arg instanceof vscode.Uri || typeof arg === 'string') {
    return vscode.workspace.openTextDocument(typeof arg === 'string' ? vscode.Uri.parse(arg) : arg);
  }
  return undefined;
}

export function registerCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const { store, engine, analyzer, decorations, panels, output } = deps;
  const register = (id: string, fn: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };

  register('moeLens.analyzeDocument', async (arg?: unknown): Promise<void> => {
    const doc = await openDocument(arg);
    if (!doc) {
      void vscode.window.showWarningMessage('MoE Lens: open a document to analyse first.');
      return;
    }
    if (doc.getText().trim().length === 0) {
      void vscode.window.showInformationMessage('MoE Lens: the document is empty; there is nothing to route.');
      return;
    }
    await analyzer.analyze(doc, true);
  });

  register('moeLens.selectModel', async () => {
    const cfg = readConfig();
    type Item = vscode.QuickPickItem & { action?: 'embedded' | 'folder' | 'gguf'; model?: CachedModel };
    const quickPick = vscode.window.createQuickPick<Item>();
    quickPick.title = 'MoE Lens: Select Model';
    quickPick.placeholder = 'The embedded demo model, a folder, a GGUF file, or a model from the Hugging Face cache, Ollama or LM Studio';
    const base: Item[] = [
      { label: '$(package) Embedded demo model', description: cfg.modelPath ? 'default' : 'default · current', action: 'embedded' },
      { label: '$(folder-opened) Choose a model folder…', description: 'config.json + *.safetensors + tokenizer.json', action: 'folder' },
      { label: '$(file-binary) Choose a GGUF file…', description: 'llama.cpp / Ollama / LM Studio model file (first split of a split model)', action: 'gguf' },
    ];
    quickPick.items = base;
    quickPick.busy = true;
    quickPick.show();
    // The cache scan and the memory plans (headers only) run in the engine process: a big cache
    // never stalls the extension host, and no weight is read here.
    const listed = async (): Promise<void> => {
      const res = await engine.listModels();
      const entries = (described: Map<string | null, DescribedModel>): Item[] => {
        const item = (m: CachedModel): Item => ({
          label: `$(database) ${m.repoId}`,
          description: `${modelDescription(m, described.get(m.path), m.path === cfg.modelPath)}${m.format === 'gguf' ? ' · GGUF' : ''}`,
          detail: modelDetail(m.path, described.get(m.path), m.format !== null),
          model: m,
        });
        // Hugging Face cache always (saying when it is empty); Ollama and LM Studio when they hold models.
        const section = (source: CachedModel['source'], title: string, dir: string | null): Item[] => {
          const found = res.models.filter((m) => m.source === source).map(item);
          if (found.length === 0 && source !== 'huggingface') {
            return [];
          }
          return [{ label: `${title}${dir ? ` (${dir})` : ''}`, kind: vscode.QuickPickItemKind.Separator }, ...(found.length > 0 ? found : [{ label: '$(info) no models in the cache', description: dir ?? '' }])];
        };
        const embedded = described.get(null)?.info;
        return [
          { ...base[0], ...(embedded ? { detail: modelDetail('embedded', described.get(null)) } : {}) },
          base[1],
          base[2],
          ...section('huggingface', 'Hugging Face cache', res.hubDir),
          ...section('ollama', 'Ollama', res.ollamaDir),
          ...section('lmstudio', 'LM Studio', res.lmStudioDir),
        ];
      };
      quickPick.items = entries(new Map());
      const paths = [null, ...res.models.filter((m) => m.format !== null).map((m) => m.path)];
      const { forbiddenRoots } = analyzer.modelParams(cfg);
      const plans = await engine.describeModels({ paths, backend: cfg.backend, ...(forbiddenRoots ? { forbiddenRoots } : {}) });
      quickPick.items = entries(new Map(plans.models.map((d) => [d.path, d])));
    };
    listed().then(
      () => (quickPick.busy = false),
      (err: unknown) => {
        output.warn(`Hugging Face cache scan or model plans failed: ${err instanceof Error ? err.message : String(err)}`);
        quickPick.busy = false;
      },
    );
    const picked = await new Promise<Item | undefined>((resolve) => {
      quickPick.onDidAccept(() => resolve(quickPick.selectedItems[0]));
      quickPick.onDidHide(() => resolve(undefined));
    });
    quickPick.dispose();
    if (!picked || (!picked.action && !picked.model)) {
      return undefined;
    }
    let modelPath = '';
    if (picked.action === 'folder') {
      const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model', title: 'MoE Lens: model folder' });
      if (!uris?.[0]) {
        return undefined;
      }
      modelPath = uris[0].fsPath;
    } else if (picked.action === 'gguf') {
      const uris = await vscode.window.showOpenDialog({ canSelectFolders: false, canSelectFiles: true, filters: { GGUF: ['gguf'] }, openLabel: 'Use this model', title: 'MoE Lens: GGUF model file' });
      if (!uris?.[0]) {
        return undefined;
      }
      modelPath = uris[0].fsPath;
    } else if (picked.model) {
      modelPath = picked.model.path;
    }
    if (modelPath && !vscode.workspace.isTrusted) {
      const inside = await rootContaining(modelPath, (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath));
      if (inside !== undefined) {
        void vscode.window.showErrorMessage('MoE Lens: this workspace is not trusted, so models inside it are not loaded. Trust the workspace or pick a model elsewhere.');
        return undefined;
      }
    }
    if (modelPath && !isModelFileOrFolder(modelPath)) {
      void vscode.window.showErrorMessage(`MoE Lens: ${modelPath} is neither a GGUF file nor a folder with config.json (a Hugging Face model folder).`);
      return undefined;
    }
    // A machine-wide choice: the user's settings, never the workspace's.
    await vscode.workspace.getConfiguration('moeLens').update('modelPath', modelPath, vscode.ConfigurationTarget.Global);
    const model = analyzer.modelParams();
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'MoE Lens: loading model', cancellable: true },
      async (_progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        try {
          const res = await engine.loadModel(model, ac.signal);
          void vscode.window.showInformationMessage(
            `MoE Lens: ${res.info.name} loaded (${res.info.modelType}, ${res.info.numExperts} experts, top-${res.info.topK}, ${res.backend}${res.cached ? '' : `, ${res.loadMs} ms`}).`,
          );
          return res.info.path;
        } catch (err) {
          void vscode.window.showErrorMessage(`MoE Lens: ${err instanceof Error ? err.message : String(err)}`);
          return undefined;
        }
      },
    );
  });

  register('moeLens.showRoutingPanel', () => panels.showRouting());
  register('moeLens.showDashboard', () => panels.showDashboard());

  register('moeLens.selectLayer', async (arg?: unknown) => {
    const doc = activeDocument();
    const analysis = (doc && store.get(doc.uri.toString())) ?? store.latest();
    if (!analysis) {
      void vscode.window.showInformationMessage('MoE Lens: analyse a document first; its layers are listed here then.');
      return undefined;
    }
    const layers = analysis.trace.layers.filter((l) => l.kind === 'moe').map((l) => l.layer);
    if (typeof arg === 'number' && layers.includes(arg)) {
      store.selectLayer(arg);
      return arg;
    }
    const pick = await vscode.window.showQuickPick(
      layers.map((l) => ({ label: `Layer ${l}`, description: l === store.selectedLayer ? 'selected' : undefined, layer: l })),
      { title: 'MoE Lens: Select Layer', placeHolder: `${layers.length} MoE layers of ${analysis.trace.model.numLayers}` },
    );
    if (pick) {
      store.selectLayer(pick.layer);
    }
    return pick?.layer;
  });

  register('moeLens.toggleHighlights', () => {
    const on = decorations.toggle();
    vscode.window.setStatusBarMessage(`MoE Lens: token highlights ${on ? 'on' : 'off'}`, 2000);
    return on;
  });

  register('moeLens.exportTrace', async (arg?: unknown) => {
    const doc = activeDocument(arg);
    const analysis = (doc && store.get(doc.uri.toString())) ?? store.latest();
    if (!analysis) {
      void vscode.window.showInformationMessage('MoE Lens: nothing to export yet; analyse a document first.');
      return undefined;
    }
    const source = vscode.Uri.parse(analysis.uri);
    const name = `${path.basename(source.path, path.extname(source.path)) || 'document'}.moe-trace.json`;
    const defaultUri = source.scheme === 'file' ? vscode.Uri.file(path.join(path.dirname(source.fsPath), name)) : undefined;
    const target = arg instanceof vscode.Uri && arg.path.endsWith('.json') ? arg : await vscode.window.showSaveDialog({ defaultUri, filters: { 'MoE Lens trace': ['json'] }, title: 'Export Routing Trace' });
    if (!target) {
      return undefined;
    }
    await writeTraceFile(target, analysis.trace);
    void vscode.window.showInformationMessage(`MoE Lens: trace written to ${target.fsPath}`);
    return target.toString();
  });

  register('moeLens.cancel', () => {
    const doc = activeDocument();
    const cancelled = (doc && analyzer.cancel(doc.uri.toString())) || analyzer.cancel();
    vscode.window.setStatusBarMessage(cancelled ? 'MoE Lens: analysis cancelled' : 'MoE Lens: nothing to cancel', 2000);
    return cancelled;
  });

  register('moeLens.restartEngine', async () => {
    const pid = await engine.restart();
    output.info(`engine restarted by the user (pid ${pid})`);
    vscode.window.setStatusBarMessage('MoE Lens: engine restarted', 3000);
    return pid;
  });

  register('moeLens.quickActions', async () => {
    const actions: (vscode.QuickPickItem & { command: string })[] = [
      { label: '$(play) Analyze Current Document', command: 'moeLens.analyzeDocument' },
      { label: '$(package) Select Model…', command: 'moeLens.selectModel' },
      { label: '$(layers) Select Layer…', command: 'moeLens.selectLayer' },
      { label: `$(eye${decorations.highlightsEnabled ? '-closed' : ''}) Toggle Token Highlights`, command: 'moeLens.toggleHighlights' },
      { label: '$(list-flat) Show Routing Panel', command: 'moeLens.showRoutingPanel' },
      { label: '$(graph) Show Dashboard', command: 'moeLens.showDashboard' },
      { label: '$(export) Export Routing Trace…', command: 'moeLens.exportTrace' },
      { label: '$(json) Open Trace File…', command: 'moeLens.openTraceFile' },
      { label: '$(diff) Compare With…', command: 'moeLens.compareWith' },
      { label: '$(debug-stop) Cancel Analysis', command: 'moeLens.cancel' },
      { label: '$(debug-restart) Restart Engine', command: 'moeLens.restartEngine' },
      { label: '$(output) Show Log', command: 'moeLens.showLog' },
    ];
    const pick = await vscode.window.showQuickPick(actions, { title: 'MoE Lens' });
    if (pick) {
      await vscode.commands.executeCommand(pick.command);
    }
  });

  register('moeLens.showLog', () => output.show());

  // Open Trace File… and Compare With…
  registerTraceCommands(context, { store, engine, analyzer, panels, output });
}
