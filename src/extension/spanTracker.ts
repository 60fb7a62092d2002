/**
 * @file Where each analysed token is in the document *now*: spans from the last analysis, shifted
 * through every edit since (tokens an edit touched drop out). Decorations and hovers both read it,
 * so highlights follow typing before the next analysis lands.
 */
import * as vscode from 'vscode';
import { SpanIndex } from './pure/ranges';
import type { RoutingStore } from './routingStore';

export class SpanTracker implements vscode.Disposable {
  private readonly spans = new Map<string, SpanIndex>();
  private readonly emitter = new vscode.EventEmitter<string>();
  private readonly disposables: vscode.Disposable[];

  /** The spans of a document moved or went (an edit, or its analysis cleared); carries the uri. */
  readonly onDidChange = this.emitter.event;
  private readonly analysedEmitter = new vscode.EventEmitter<string>();
  /** A document has spans from a new analysis; carries the uri. */
  readonly onDidAnalyse = this.analysedEmitter.event;

  constructor(store: RoutingStore) {
    this.disposables = [
      store.onDidChangeAnalysis((a) => {
        this.spans.set(a.uri, SpanIndex.fromTokens(a.trace.tokens));
        this.analysedEmitter.fire(a.uri);
      }),
      store.onDidClearAnalysis((uri) => {
        this.spans.delete(uri);
        this.emitter.fire(uri);
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        const uri = e.document.uri.toString();
        const current = this.spans.get(uri);
        if (!current || e.contentChanges.length === 0) {
          return;
        }
        this.spans.set(
          uri,
          current.applyChanges(e.contentChanges.map((c) => ({ offset: c.rangeOffset, length: c.rangeLength, textLength: c.text.length }))),
        );
        this.emitter.fire(uri);
      }),
    ];
  }

  get(uri: string): SpanIndex | undefined {
    return this.spans.get(uri);
  }

  /** The editor range of token `t`, or undefined when it has no span (any more). */
  range(document: vscode.TextDocument, t: number): vscode.Range | undefined {
    const s = this.spans.get(document.uri.toString());
    if (!s || t < 0 || t >= s.size || s.starts[t] < 0) {
      return undefined;
    }
    return new vscode.Range(document.positionAt(s.starts[t]), document.positionAt(s.ends[t]));
  }

  dispose(): void {
    this.emitter.dispose();
    this.analysedEmitter.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
