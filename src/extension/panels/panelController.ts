/**
 * @file One webview panel bound to the RoutingStore: builds its HTML, validates every message the
 * page posts, turns user actions into store calls, and forwards store events to the page. The
 * Routing and Dashboard panels differ only in their `PanelKind`.
 */
import { homedir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readConfig } from '../config';
import type { Counterfactuals } from '../counterfactuals';
import { objectIds, PanelSync, stateKey } from '../pure/panelSync';
import type { DocumentAnalysis, RoutingStore } from '../routingStore';
import {
  CancelCounterfactualCommand,
  DidChangeCounterfactualNotification,
  DidProgressCounterfactualNotification,
  CompareRevealCommand,
  DidChangeCompareNotification,
  DidChangeExpertHighlightNotification,
  DidChangeLayerNotification,
  DidChangeStateNotification,
  DidChangeTokenSelectionNotification,
  ExportDidSaveNotification,
  HighlightExpertCommand,
  isWebviewToHost,
  ReadyCommand,
  RunCounterfactualCommand,
  SaveExportRequest,
  SelectLayerCommand,
  SelectTokenCommand,
  type HostToWebview,
  type PersistedState,
  type State,
  type WebviewId,
  type WebviewToHost,
} from '../../shared/webviewProtocol';
import { slimTrace } from '../../shared/traceCodec';
import type { TraceComparison } from '../../shared/traceCompare';
import { buildHtml, makeNonce } from './html';

export interface PanelKind {
  webviewId: WebviewId;
  viewType: string;
  title: string;
  /** media/<script>.js */
  script: string;
  /** media/<name>.css, in order. */
  styles: string[];
  /** How this panel names itself in store events, so it does not echo its own. */
  tokenSource: 'panel' | 'dashboard';
  expertSource: 'panel' | 'dashboard';
}

/** One id per stored analysis, shared by the panels. */
const analysisId = objectIds();

export function mediaRoot(context: vscode.ExtensionContext): vscode.Uri {
  return vscode.Uri.joinPath(context.extensionUri, 'media');
}

export function webviewOptions(context: vscode.ExtensionContext): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [mediaRoot(context)] };
}

/** A panel VS Code restored after a reload, with the state its page saved. */
export interface RestoredPanel {
  panel: vscode.WebviewPanel;
  state: PersistedState | null;
}

/** Opens a new panel of this kind beside the editor, or adopts one VS Code restored. */
export function openPanel(
  kind: PanelKind,
  context: vscode.ExtensionContext,
  store: RoutingStore,
  counterfactuals: Counterfactuals,
  onDisposed: () => void,
  restored?: RestoredPanel,
): PanelController {
  const panel =
    restored?.panel ??
    vscode.window.createWebviewPanel(kind.viewType, kind.title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(context));
  return new PanelController(panel, kind, context, store, counterfactuals, restored?.state ?? null, onDisposed);
}

export class PanelController implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private uri: string | null;
  private selectedToken: number | null;
  /** Whether a change needs the whole state (with the trace) or a small notification. */
  private readonly sync = new PanelSync();
  /** The Compare view's comparison (dashboard), re-sent whenever the page (re)loads. */
  private compare: TraceComparison | null = null;
  /** Called when the user clicks a token in the Compare view. */
  onCompareReveal: ((side: 'a' | 'b', tokenIndex: number) => void) | undefined;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly kind: PanelKind,
    private readonly context: vscode.ExtensionContext,
    private readonly store: RoutingStore,
    private readonly counterfactuals: Counterfactuals,
    restored: PersistedState | null,
    private readonly onDisposed: () => void,
  ) {
    this.uri = restored?.uri && store.get(restored.uri) ? restored.uri : (store.latest()?.uri ?? restored?.uri ?? null);
    this.selectedToken = restored?.uri === this.uri ? (restored?.selectedToken ?? null) : null;
    const webview = panel.webview;
    webview.options = webviewOptions(context);
    panel.iconPath = vscode.Uri.joinPath(mediaRoot(context), 'icon.svg');
    webview.html = this.html();
    this.disposables.push(
      webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState((e) => {
        if (this.sync.visibilityChanged(this.stateKey(), e.webviewPanel.visible) === 'state') {
          this.sendState();
        }
      }),
      store.onDidChangeAnalysis((a) => {
        // A re-analysis of the same document keeps the selection (the state clamps it to the new length).
        if (a.uri !== this.uri) {
          this.selectedToken = null;
        }
        this.uri = a.uri;
        this.syncState();
      }),
      store.onDidClearAnalysis((uri) => {
        if (uri === this.uri) {
          this.uri = store.latest()?.uri ?? null;
          this.selectedToken = null;
          this.syncState();
        }
      }),
      store.onDidChangeLayer((layer) => this.notify({ method: DidChangeLayerNotification, params: { layer } })),
      // The panels colour experts by the same scheme as the editor: a change re-sends the state.
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('moeLens.colorScheme')) {
          this.syncState();
        }
      }),
      store.onDidSelectToken((s) => {
        if (s.uri !== this.uri && store.get(s.uri)) {
          // The user moved to another analysed document: follow it.
          this.uri = s.uri;
          this.selectedToken = s.tokenIndex;
          this.syncState();
          return;
        }
        if (s.uri === this.uri) {
          this.selectedToken = s.tokenIndex;
          if (s.source !== kind.tokenSource) {
            this.notify({ method: DidChangeTokenSelectionNotification, params: { uri: s.uri, tokenIndex: s.tokenIndex } });
          }
        }
      }),
      counterfactuals.onDidChange((c) => {
        if (c.uri === this.uri) {
          this.notify({ method: DidChangeCounterfactualNotification, params: { uri: c.uri, counterfactual: c.state } });
        }
      }),
      counterfactuals.onDidProgress((p) => {
        if (p.uri === this.uri) {
          this.notify({ method: DidProgressCounterfactualNotification, params: { uri: p.uri, fraction: Math.min(1, Math.max(0, p.fraction)), message: p.message.slice(0, 1000) } });
        }
      }),
      store.onDidHighlightExpert((h) => {
        if (h.source !== kind.expertSource) {
          this.notify({
            method: DidChangeExpertHighlightNotification,
            params: { highlight: h.expert === null ? null : { layer: h.layer, expert: h.expert } },
          });
        }
      }),
    );
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  /** Shows (or, with null, closes) the Compare view; a hidden page gets it when it loads again. */
  setCompare(compare: TraceComparison | null): void {
    this.compare = compare;
    if (this.panel.visible) {
      this.post({ method: DidChangeCompareNotification, params: { compare } });
    }
  }

  private html(): string {
    const webview = this.panel.webview;
    const media = mediaRoot(this.context);
    return buildHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, `${this.kind.script}.js`)).toString(),
      styleUris: this.kind.styles.map((s) => webview.asWebviewUri(vscode.Uri.joinPath(media, `${s}.css`)).toString()),
      title: this.kind.title,
    });
  }

  private analysis(): DocumentAnalysis | undefined {
    return this.uri ? this.store.get(this.uri) : undefined;
  }

  private state(): State {
    const a = this.analysis();
    const h = this.store.highlightedExpert;
    const T = a?.trace.tokens.length ?? 0;
    return {
      webviewId: this.kind.webviewId,
      uri: a?.uri ?? null,
      label: a ? path.basename(vscode.Uri.parse(a.uri).path) : null,
      text: a?.text ?? null,
      trace: a ? slimTrace(a.trace) : null,
      layer: this.store.selectedLayer ?? null,
      selectedToken: this.selectedToken !== null && this.selectedToken < T ? this.selectedToken : null,
      highlight: h && h.expert !== null ? { layer: h.layer, expert: h.expert } : null,
      colorScheme: readConfig().colorScheme,
    };
  }

  /** Identifies what the page must get whole: the analysis shown and the colour scheme. */
  private stateKey(): string {
    const a = this.analysis();
    return stateKey(a?.uri ?? null, a ? analysisId(a) : null, readConfig().colorScheme);
  }

  /** The analysis, followed document or scheme may have changed: post the trace only if so (and if shown). */
  private syncState(): void {
    if (this.sync.stateChanged(this.stateKey(), this.panel.visible) === 'state') {
      this.sendState();
    }
  }

  private sendState(): void {
    this.post({ method: DidChangeStateNotification, params: { state: this.state() } });
    // After the state: the page lays the counterfactual over the trace it now holds.
    if (this.uri && this.analysis()) {
      this.post({ method: DidChangeCounterfactualNotification, params: { uri: this.uri, counterfactual: this.counterfactuals.get(this.uri) } });
    }
  }

  /** A layer / token / expert change; a hidden panel gets it with the state when shown. */
  private notify(message: HostToWebview): void {
    if (this.sync.smallChange(this.panel.visible) === 'notify') {
      this.post(message);
    }
  }

  private post(message: HostToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  /** Everything from the page is untrusted: drop what does not validate, and check indices against the analysis. */
  private receive(message: unknown): void {
    if (!isWebviewToHost(message)) {
      return;
    }
    void this.handle(message);
  }

  private async handle(m: WebviewToHost): Promise<void> {
    switch (m.method) {
      case ReadyCommand:
        this.sync.ready(this.stateKey());
        this.sendState();
        if (this.compare) {
          this.post({ method: DidChangeCompareNotification, params: { compare: this.compare } });
        }
        break;
      case CompareRevealCommand:
        this.onCompareReveal?.(m.params.side, m.params.tokenIndex);
        break;
      case SelectTokenCommand: {
        const a = this.analysis();
        if (a && m.params.uri === a.uri && m.params.tokenIndex < a.trace.tokens.length) {
          this.selectedToken = m.params.tokenIndex;
          this.store.selectToken({ uri: a.uri, tokenIndex: m.params.tokenIndex, source: this.kind.tokenSource });
        }
        break;
      }
      case HighlightExpertCommand: {
        const a = this.analysis();
        if (a && (m.params.expert === null || m.params.expert < a.trace.model.numExperts)) {
          this.store.highlightExpert({ layer: m.params.layer, expert: m.params.expert, source: this.kind.expertSource });
        }
        break;
      }
      case SelectLayerCommand:
        if (this.analysis()?.trace.layers.some((l) => l.layer === m.params.layer)) {
          this.store.selectLayer(m.params.layer);
        }
        break;
      case RunCounterfactualCommand:
        if (this.analysis()?.uri === m.params.uri) {
          await this.counterfactuals.run(m.params.uri, m.params.choice);
        }
        break;
      case CancelCounterfactualCommand:
        this.counterfactuals.cancel(m.params.uri);
        break;
      case SaveExportRequest:
        await this.saveExport(m.params);
        break;
      default:
        break;
    }
  }

  private async saveExport(p: SaveExportRequest['params']): Promise<void> {
    const reply = (saved: boolean, file: string | null, error: string | null): void =>
      this.post({ method: ExportDidSaveNotification, params: { id: p.id, saved, path: file, error } });
    try {
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
      const filters: Record<string, string[]> = { png: { PNG: ['png'] }, svg: { SVG: ['svg'] }, csv: { CSV: ['csv'] } }[p.format];
      const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, p.fileName), filters });
      if (!target) {
        reply(false, null, null);
        return;
      }
      const bytes = p.format === 'png' ? Buffer.from(p.data, 'base64') : Buffer.from(p.data, 'utf8');
      await vscode.workspace.fs.writeFile(target, bytes);
      reply(true, target.fsPath, null);
    } catch (err) {
      reply(false, null, err instanceof Error ? err.message : String(err));
    }
  }

  dispose(): void {
    while (this.disposables.length) {
      this.disposables.pop()?.dispose();
    }
    this.onDisposed();
  }
}
