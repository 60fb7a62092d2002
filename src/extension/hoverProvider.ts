/**
 * @file The token hover: answered from the cached trace (no engine round trip), rendered as
 * untrusted Markdown without HTML or theme icons; the text itself is escaped in hoverText.ts.
 */
import * as vscode from 'vscode';
import { effectiveLayer } from '../shared/effectiveLayer';
import type { Counterfactuals } from './counterfactuals';
import { buildHoverMarkdown } from './pure/hoverText';
import type { RoutingStore } from './routingStore';
import type { SpanTracker } from './spanTracker';

export function registerHoverProvider(store: RoutingStore, tracker: SpanTracker, counterfactuals: Pick<Counterfactuals, 'active'>): vscode.Disposable {
  return vscode.languages.registerHoverProvider('*', {
    provideHover(document, position) {
      const uri = document.uri.toString();
      const analysis = store.get(uri);
      const spans = tracker.get(uri);
      if (!analysis || !spans) {
        return undefined;
      }
      const t = spans.tokenAt(document.offsetAt(position));
      if (t < 0) {
        return undefined;
      }
      const trace = analysis.trace;
      // -1: a trace without MoE layers; the hover says the layer is not there.
      const layer = effectiveLayer(trace, store.selectedLayer) ?? -1;
      const md = new vscode.MarkdownString(buildHoverMarkdown(trace, t, layer, { maxOtherLayers: 64, counterfactual: counterfactuals.active(uri) }));
      md.isTrusted = false;
      md.supportHtml = false;
      md.supportThemeIcons = false;
      return new vscode.Hover(md, tracker.range(document, t));
    },
  });
}
