/**
 * @file Extension entry point: wiring only. The engine runs in its own process (engineClient);
 * everything the editor shows comes from the RoutingStore, one controller per surface.
 */
import * as vscode from 'vscode';
import { effectiveLayer } from '../shared/effectiveLayer';
import { Analyzer } from './analyzer';
import { registerCommands } from './commands';
import { readConfig } from './config';
import { Counterfactuals } from './counterfactuals';
import { cachedValue } from './pure/cachedValue';
import { DecorationController } from './decorationController';
import { createEngine } from './engineHost';
import { registerHoverProvider } from './hoverProvider';
import { registerPanels } from './panels/panels';
import { RoutingStore } from './routingStore';
import { SpanTracker } from './spanTracker';
import { StatusBar } from './statusBar';
import { registerTestCommands } from './testCommands';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('MoE Lens', { log: true });
  const store = new RoutingStore();
  const engine = createEngine(context, output);
  const analyzer = new Analyzer(store, engine, output);
  const tracker = new SpanTracker(store);
  // Cached: the decorator asks on every redraw; invalidated below when the setting changes.
  const colorScheme = cachedValue(() => readConfig().colorScheme);
  const decorations = new DecorationController(store, tracker, () => colorScheme.get());
  const counterfactuals = new Counterfactuals(store, engine, analyzer, output);
  const panels = registerPanels(context, store, counterfactuals);
  context.subscriptions.push(
    output,
    store,
    analyzer,
    counterfactuals,
    tracker,
    decorations,
    registerHoverProvider(store, tracker, counterfactuals),
    new StatusBar(store, analyzer, engine),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('moeLens.colorScheme')) {
        colorScheme.invalidate();
        decorations.resetTypes();
      }
      if (e.affectsConfiguration('moeLens.selectedLayer')) {
        const latest = store.latest();
        const layer = latest ? effectiveLayer(latest.trace, readConfig().selectedLayer) : null;
        if (layer !== null) {
          store.selectLayer(layer);
        }
      }
    }),
  );
  registerCommands(context, { store, engine, analyzer, decorations, panels, output });
  // The tests' commands exist only where the tests run: a development host or a test run.
  if (context.extensionMode !== vscode.ExtensionMode.Production) {
    registerTestCommands(context, { store, engine, analyzer, decorations });
  }
}

// The engine is stopped by its disposable in context.subscriptions.
export function deactivate(): void {}
