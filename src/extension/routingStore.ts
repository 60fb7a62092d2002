/**
 * @file The extension host's single source of truth for analyses and the user's selection.
 *
 * Every editor surface (decorations, hovers, status bar, the webview panels) reads from here and
 * listens to its events, so that a click in one place shows up in all the others without the
 * surfaces knowing about each other.
 */
import * as vscode from 'vscode';
import { effectiveLayer } from '../shared/effectiveLayer';
import type { RoutingTrace } from '../shared/trace';

/** One finished analysis of one version of one document. */
export interface DocumentAnalysis {
  /** `document.uri.toString()`. */
  uri: string;
  /** `document.version` the trace was computed for; stale once the document changes. */
  version: number;
  /** The exact text that was analysed (token spans index into it); null for a trace opened from a file. */
  text: string | null;
  languageId: string;
  trace: RoutingTrace;
}

/** What the user points at: a token of a document, or an expert of a layer. */
export interface TokenSelection {
  uri: string;
  tokenIndex: number;
  /** Where the selection came from, so a surface does not echo its own event back. */
  source: 'editor' | 'panel' | 'dashboard';
}

export interface ExpertHighlight {
  layer: number;
  /** null clears the highlight. */
  expert: number | null;
  source: 'panel' | 'dashboard' | 'command';
}

export class RoutingStore implements vscode.Disposable {
  private readonly analyses = new Map<string, DocumentAnalysis>();
  private layer: number | undefined;
  private expertHighlight: ExpertHighlight | undefined;

  private readonly analysisEmitter = new vscode.EventEmitter<DocumentAnalysis>();
  private readonly clearEmitter = new vscode.EventEmitter<string>();
  private readonly layerEmitter = new vscode.EventEmitter<number>();
  private readonly tokenEmitter = new vscode.EventEmitter<TokenSelection>();
  private readonly expertEmitter = new vscode.EventEmitter<ExpertHighlight>();

  /** A new analysis was stored. */
  readonly onDidChangeAnalysis = this.analysisEmitter.event;
  /** An analysis was dropped (document closed or edited past it); carries the uri. */
  readonly onDidClearAnalysis = this.clearEmitter.event;
  /** The selected layer (a checkpoint layer number) changed. */
  readonly onDidChangeLayer = this.layerEmitter.event;
  /** A token was selected in some surface; others reveal or highlight it. */
  readonly onDidSelectToken = this.tokenEmitter.event;
  /** An expert was picked for highlighting (or cleared). */
  readonly onDidHighlightExpert = this.expertEmitter.event;

  get(uri: string): DocumentAnalysis | undefined {
    return this.analyses.get(uri);
  }

  /** Every stored analysis, oldest first. */
  all(): DocumentAnalysis[] {
    return [...this.analyses.values()];
  }

  /** The most recently stored analysis, for panels opened without an active editor. */
  latest(): DocumentAnalysis | undefined {
    let last: DocumentAnalysis | undefined;
    for (const a of this.analyses.values()) {
      last = a;
    }
    return last;
  }

  set(analysis: DocumentAnalysis): void {
    // Re-insert so that latest() follows recency.
    this.analyses.delete(analysis.uri);
    this.analyses.set(analysis.uri, analysis);
    this.layer = effectiveLayer(analysis.trace, this.layer) ?? this.layer;
    this.analysisEmitter.fire(analysis);
  }

  clear(uri: string): void {
    if (this.analyses.delete(uri)) {
      this.clearEmitter.fire(uri);
    }
  }

  /** The selected checkpoint layer number (defaults to the default layer of the first analysis: see effectiveLayer). */
  get selectedLayer(): number | undefined {
    return this.layer;
  }

  selectLayer(layer: number): void {
    if (layer !== this.layer) {
      this.layer = layer;
      this.layerEmitter.fire(layer);
    }
  }

  selectToken(selection: TokenSelection): void {
    this.tokenEmitter.fire(selection);
  }

  get highlightedExpert(): ExpertHighlight | undefined {
    return this.expertHighlight;
  }

  highlightExpert(highlight: ExpertHighlight): void {
    this.expertHighlight = highlight.expert === null ? undefined : highlight;
    this.expertEmitter.fire(highlight);
  }

  dispose(): void {
    this.analysisEmitter.dispose();
    this.clearEmitter.dispose();
    this.layerEmitter.dispose();
    this.tokenEmitter.dispose();
    this.expertEmitter.dispose();
  }
}
