/**
 * @file The status-bar item: model, backend, tokens and time of the active document's analysis
 * (or progress while one runs, or the engine's state when it is down); a click opens the quick
 * actions.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Analyzer } from './analyzer';
import type { EngineClient } from './engineClient';
import type { RoutingStore } from './routingStore';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('moeLens.status', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[];
  private engineDown: string | undefined;

  constructor(
    private readonly store: RoutingStore,
    private readonly analyzer: Analyzer,
    private readonly engine: EngineClient,
  ) {
    this.item.name = 'MoE Lens';
    this.item.command = 'moeLens.quickActions';
    this.disposables = [
      store.onDidChangeAnalysis(() => this.update()),
      store.onDidClearAnalysis(() => this.update()),
      store.onDidChangeLayer(() => this.update()),
      analyzer.onDidChangeBusy(() => this.update()),
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      engine.onDidExit((e) => {
        this.engineDown = e.gaveUp ? 'engine stopped' : undefined;
        this.update();
      }),
      engine.onDidStart(() => {
        this.engineDown = undefined;
        this.update();
      }),
    ];
    this.update();
    this.item.show();
  }

  update(): void {
    const busy = this.analyzer.busy;
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const analysis = uri ? this.store.get(uri) : undefined;
    this.item.backgroundColor = undefined;
    if (this.engineDown) {
      this.item.text = `$(error) MoE Lens: ${this.engineDown}`;
      this.item.tooltip = 'The engine crashed repeatedly. Click for actions (Restart Engine).';
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (busy) {
      this.item.text = `$(loading~spin) MoE Lens ${Math.round(busy.fraction * 100)} %`;
      this.item.tooltip = `Analysing ${path.basename(vscode.Uri.parse(busy.uri).path)}: ${busy.message}`;
    } else if (analysis) {
      const t = analysis.trace;
      const ms = t.timing ? `${Math.round(t.timing.totalMs)} ms` : '';
      this.item.text = `$(symbol-class) ${t.model.name} · ${t.backend} · ${t.tokens.length} tok${ms ? ` · ${ms}` : ''}`;
      const tip = new vscode.MarkdownString(undefined, false);
      tip.appendText(`MoE Lens — ${t.model.name} (${t.model.modelType}, ${t.model.numExperts} experts, top-${t.model.topK})\n\n`);
      tip.appendText(`Backend ${t.backend} · ${t.tokens.length} tokens · layer ${this.store.selectedLayer ?? '–'} selected · engine pid ${this.engine.pid ?? '–'}\n\n`);
      tip.appendText('Click for MoE Lens actions.');
      this.item.tooltip = tip;
    } else {
      this.item.text = '$(symbol-class) MoE Lens';
      this.item.tooltip = 'MoE Lens: click to analyse this document or pick a model.';
    }
  }

  dispose(): void {
    this.item.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
