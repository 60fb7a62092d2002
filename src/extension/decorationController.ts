/**
 * @file Token highlights: each token's background is its top-1 expert's colour in the selected
 * layer, with opacity by how decisive the gate was. Decoration types are made once per colour
 * bucket (expert × opacity level) and reused; a redecorate hands over only the buckets whose ranges
 * changed (pure/decorationDiff.ts), so after an incremental re-analysis the tokens before the edit
 * are not redrawn.
 * Also: the expert highlight from panels, revealing a token a panel selected, and publishing the
 * editor's own token selection.
 */
import * as vscode from 'vscode';
import { effectiveLayer } from '../shared/effectiveLayer';
import {
  LEVELS,
  OPACITY_LEVELS,
  THEMED_EXPERT_COLORS,
  bucketKey,
  expertColor,
  opacityLevel,
  themedColorId,
  toHex,
  type ColorScheme,
  type ThemeKind,
} from '../shared/expertPalette';
import { planDecorations, type OffsetRanges } from './pure/decorationDiff';
import type { RoutingStore } from './routingStore';
import type { SpanTracker } from './spanTracker';

const REDECORATE_MS = 60;
const SELECTION_PUBLISH_MS = 80;

function themeKind(): ThemeKind {
  switch (vscode.window.activeColorTheme.kind) {
    case vscode.ColorThemeKind.Light:
      return 'light';
    case vscode.ColorThemeKind.HighContrast:
      return 'highContrast';
    case vscode.ColorThemeKind.HighContrastLight:
      return 'highContrastLight';
    default:
      return 'dark';
  }
}

export class DecorationController implements vscode.Disposable {
  private enabled = true;
  private readonly types = new Map<string, vscode.TextEditorDecorationType>();
  /** Per editor: bucket key → fingerprint of the ranges it was last given (decorationDiff.ts). */
  private readonly used = new WeakMap<vscode.TextEditor, Map<string, string>>();
  private readonly highlightType = vscode.window.createTextEditorDecorationType({
    border: '1px solid',
    borderColor: new vscode.ThemeColor('moeLens.highlightedExpertBorder'),
    borderRadius: '2px',
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly selectedType = vscode.window.createTextEditorDecorationType({
    outline: '2px solid',
    outlineColor: new vscode.ThemeColor('moeLens.selectedTokenBorder'),
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private selectionTimer: NodeJS.Timeout | undefined;
  private lastPublished: { uri: string; token: number } | undefined;
  private selected: { uri: string; token: number } | undefined;
  /** The selection we set for a panel (as offsets), so its change event is not echoed back. */
  private revealing: { uri: string; anchor: number; active: number } | undefined;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly store: RoutingStore,
    private readonly tracker: SpanTracker,
    private readonly scheme: () => ColorScheme,
  ) {
    this.disposables = [
      tracker.onDidChange((uri) => this.schedule(uri)),
      tracker.onDidAnalyse((uri) => this.decorateNow(uri)),
      store.onDidChangeLayer(() => this.refreshAll()),
      store.onDidHighlightExpert(() => this.refreshAll()),
      store.onDidSelectToken((sel) => {
        this.selected = { uri: sel.uri, token: sel.tokenIndex };
        if (sel.source !== 'editor') {
          // The panels already show this token: the editor need not publish it again.
          this.lastPublished = { uri: sel.uri, token: sel.tokenIndex };
          void this.reveal(sel.uri, sel.tokenIndex);
        }
        this.schedule(sel.uri);
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => this.refreshAll()),
      vscode.window.onDidChangeActiveColorTheme(() => this.resetTypes()),
      vscode.window.onDidChangeTextEditorSelection((e) => this.onSelection(e)),
    ];
  }

  get highlightsEnabled(): boolean {
    return this.enabled;
  }

  toggle(): boolean {
    this.enabled = !this.enabled;
    this.refreshAll();
    return this.enabled;
  }

  /** Colour scheme or theme changed: the buckets' colours are different now. */
  resetTypes(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      this.clear(editor);
    }
    this.types.forEach((t) => t.dispose());
    this.types.clear();
    this.refreshAll();
  }

  refreshAll(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      this.decorate(editor);
    }
  }

  /** Number of decoration types made so far (one per bucket in use; tests check it stays small). */
  get typeCount(): number {
    return this.types.size;
  }

  /** Bursts (edits, selections) redecorate once, REDECORATE_MS after the first. */
  private schedule(uri: string): void {
    if (this.timers.has(uri)) {
      return;
    }
    this.timers.set(
      uri,
      setTimeout(() => this.decorateNow(uri), REDECORATE_MS),
    );
  }

  /** A new analysis shows at once (and takes the place of a redecoration already scheduled). */
  private decorateNow(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === uri) {
        this.decorate(editor);
      }
    }
  }

  private typeFor(expert: number, level: number, numExperts: number, scheme: ColorScheme): { key: string; type: vscode.TextEditorDecorationType } {
    // The themed colours are one per expert (mod 16), without opacity levels.
    const key = scheme === 'theme' ? bucketKey(expert % THEMED_EXPERT_COLORS, 0) : bucketKey(expert, level);
    let type = this.types.get(key);
    if (!type) {
      if (scheme === 'theme') {
        type = vscode.window.createTextEditorDecorationType({
          backgroundColor: new vscode.ThemeColor(themedColorId(expert)),
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        });
      } else {
        const base = expertColor(expert, numExperts, scheme);
        const kind = themeKind();
        const hc = kind === 'highContrast' || kind === 'highContrastLight';
        type = vscode.window.createTextEditorDecorationType({
          light: { backgroundColor: toHex(base, OPACITY_LEVELS[hc ? 'highContrastLight' : 'light'][level]) },
          dark: { backgroundColor: toHex(base, OPACITY_LEVELS[hc ? 'highContrast' : 'dark'][level]) },
          // High contrast themes draw a border too: colour alone is not enough there.
          ...(hc ? { border: '1px solid', borderColor: toHex(base) } : {}),
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        });
      }
      this.types.set(key, type);
    }
    return { key, type };
  }

  private clear(editor: vscode.TextEditor): void {
    for (const key of this.used.get(editor)?.keys() ?? []) {
      const type = this.types.get(key);
      if (type) {
        editor.setDecorations(type, []);
      }
    }
    this.used.delete(editor);
    editor.setDecorations(this.highlightType, []);
    editor.setDecorations(this.selectedType, []);
  }

  private decorate(editor: vscode.TextEditor): void {
    const uri = editor.document.uri.toString();
    const analysis = this.store.get(uri);
    const spans = this.tracker.get(uri);
    const layerNo = analysis && effectiveLayer(analysis.trace, this.store.selectedLayer);
    const layer = analysis?.trace.layers.find((l) => l.layer === layerNo);
    if (!this.enabled || !analysis || !spans || !layer || layer.kind !== 'moe' || !layer.experts || !layer.weights) {
      this.clear(editor);
      return;
    }
    const doc = editor.document;
    const E = analysis.trace.model.numExperts;
    const buckets = new Map<string, { type: vscode.TextEditorDecorationType; ranges: vscode.Range[]; offsets: [number, number][] }>();
    const highlight = this.store.highlightedExpert;
    const hlLayer = highlight ? analysis.trace.layers.find((l) => l.layer === highlight.layer) : undefined;
    const highlighted: vscode.Range[] = [];
    // Once per redraw, not per token: a settings read per token was most of the typing lag.
    const scheme = this.scheme();
    for (const t of spans.visible()) {
      const experts = layer.experts[t];
      if (!experts || experts.length === 0) {
        continue;
      }
      const range = new vscode.Range(doc.positionAt(spans.starts[t]), doc.positionAt(spans.ends[t]));
      const { key, type } = this.typeFor(experts[0], Math.min(LEVELS - 1, opacityLevel(layer.weights[t] ?? [])), E, scheme);
      let b = buckets.get(key);
      if (!b) {
        b = { type, ranges: [], offsets: [] };
        buckets.set(key, b);
      }
      b.ranges.push(range);
      b.offsets.push([spans.starts[t], spans.ends[t]]);
      if (highlight && highlight.expert !== null && hlLayer?.experts?.[t]?.includes(highlight.expert)) {
        highlighted.push(range);
      }
    }
    const wanted = new Map<string, OffsetRanges>([...buckets].map(([key, b]) => [key, b.offsets]));
    const plan = planDecorations(this.used.get(editor) ?? new Map<string, string>(), wanted);
    for (const key of plan.clear) {
      const type = this.types.get(key);
      if (type) {
        editor.setDecorations(type, []);
      }
    }
    for (const key of plan.set) {
      const b = buckets.get(key)!;
      editor.setDecorations(b.type, b.ranges);
    }
    this.used.set(editor, plan.shown);
    editor.setDecorations(this.highlightType, highlighted);
    const sel = this.selected?.uri === uri ? this.tracker.range(doc, this.selected.token) : undefined;
    editor.setDecorations(this.selectedType, sel ? [sel] : []);
  }

  /** Shows token `t` of `uri` in an editor (opening it beside if needed) and selects it. */
  private async reveal(uri: string, t: number): Promise<void> {
    let editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
    if (!editor) {
      try {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
        editor = await vscode.window.showTextDocument(doc, { preserveFocus: true, preview: true, viewColumn: vscode.ViewColumn.One });
      } catch {
        return;
      }
    }
    const range = this.tracker.range(editor.document, t);
    if (!range) {
      return;
    }
    const doc = editor.document;
    this.revealing = { uri, anchor: doc.offsetAt(range.start), active: doc.offsetAt(range.end) };
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private onSelection(e: vscode.TextEditorSelectionChangeEvent): void {
    const uri = e.textEditor.document.uri.toString();
    if (!this.store.get(uri)) {
      return;
    }
    clearTimeout(this.selectionTimer);
    this.selectionTimer = setTimeout(() => {
      const spans = this.tracker.get(uri);
      if (!spans) {
        return;
      }
      const doc = e.textEditor.document;
      const anchor = doc.offsetAt(e.selections[0].anchor);
      const active = doc.offsetAt(e.selections[0].active);
      const r = this.revealing;
      this.revealing = undefined;
      if (r?.uri === uri && r.anchor === anchor && r.active === active) {
        return; // the selection a panel asked for: do not send it back
      }
      // By the selection's start: its end (the caret) is where the next token begins.
      const t = spans.tokenForSelection(anchor, active);
      if (t < 0 || (this.lastPublished?.uri === uri && this.lastPublished.token === t)) {
        return;
      }
      this.lastPublished = { uri, token: t };
      this.store.selectToken({ uri, tokenIndex: t, source: 'editor' });
    }, SELECTION_PUBLISH_MS);
  }

  dispose(): void {
    this.timers.forEach((t) => clearTimeout(t));
    clearTimeout(this.selectionTimer);
    this.types.forEach((t) => t.dispose());
    this.highlightType.dispose();
    this.selectedType.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
