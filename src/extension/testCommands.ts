/**
 * @file Commands for the integration and end-to-end tests, registered only when the extension runs
 * in Development or Test mode (extension.ts), never in an installed extension: they expose the
 * host's internals (queue, engine pid, stored analyses, decoration types) and stand in for a panel.
 * Not contributed in package.json, so they never reach the command palette.
 */
import * as vscode from 'vscode';
import type { DecorationController } from './decorationController';
import type { EngineClient } from './engineClient';
import type { Analyzer, AnalysisTimeline } from './analyzer';
import type { RoutingStore } from './routingStore';

export interface TestCommandDeps {
  store: RoutingStore;
  engine: EngineClient;
  analyzer: Analyzer;
  decorations: DecorationController;
}

/** Ids of the test-only commands, so a test can show none of them exist in production. */
export const TEST_COMMANDS = ['moeLens.debug.stats', 'moeLens.debug.select', 'moeLens.debug.killEngine'] as const;

/** What `moeLens.debug.stats` returns. */
export interface DebugStats {
  /** Analyses running + waiting in the host. */
  queueLength: number;
  /** Requests queued or running in the engine client. */
  enginePending: number;
  enginePid: number | null;
  engineState: string;
  decorationTypes: number;
  /** uri → the stored analysis of each open document; `partial`: only its first tokens so far, the rest still running. */
  analyses: Record<string, { version: number; tokens: number; layers: number; windows: number; partial: boolean; timeline?: AnalysisTimeline }>;
  /** The last token selection any surface published, and the expert highlight. */
  lastSelection: { uri: string; tokenIndex: number; source: string } | null;
  highlightedExpert: { layer: number; expert: number | null } | null;
  selectedLayer: number | null;
}

/** The last analysis stored its first tokens and has not answered yet. */
function isPartial(t: AnalysisTimeline | undefined): boolean {
  return t?.firstWindow !== undefined && t.answered === undefined;
}

export function registerTestCommands(context: vscode.ExtensionContext, deps: TestCommandDeps): void {
  const { store, engine, analyzer, decorations } = deps;
  let lastSelection: DebugStats['lastSelection'] = null;
  context.subscriptions.push(
    store.onDidSelectToken((sel) => (lastSelection = { uri: sel.uri, tokenIndex: sel.tokenIndex, source: sel.source })),
  );
  const register = (id: (typeof TEST_COMMANDS)[number], fn: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };

  register('moeLens.debug.stats', (): DebugStats => ({
    queueLength: analyzer.queueLength,
    enginePending: engine.pending,
    enginePid: engine.pid ?? null,
    engineState: engine.state,
    decorationTypes: decorations.typeCount,
    analyses: Object.fromEntries(
      vscode.workspace.textDocuments
        .map((d) => store.get(d.uri.toString()))
        .filter((a) => a !== undefined)
        .map((a) => [a.uri, { version: a.version, tokens: a.trace.tokens.length, layers: a.trace.layers.length, windows: a.trace.windows?.length ?? 1, partial: isPartial(analyzer.timeline.get(a.uri)), timeline: analyzer.timeline.get(a.uri) }]),
    ),
    lastSelection,
    highlightedExpert: store.highlightedExpert ? { layer: store.highlightedExpert.layer, expert: store.highlightedExpert.expert } : null,
    selectedLayer: store.selectedLayer ?? null,
  }));

  // Stands in for a panel: selects a token (the editor reveals it) or highlights an expert.
  register('moeLens.debug.select', (arg?: unknown) => {
    const a = (arg ?? {}) as { uri?: string; tokenIndex?: number; layer?: number; expert?: number | null };
    if (typeof a.uri === 'string' && typeof a.tokenIndex === 'number') {
      store.selectToken({ uri: a.uri, tokenIndex: a.tokenIndex, source: 'panel' });
    }
    if (typeof a.layer === 'number' && a.expert !== undefined) {
      store.highlightExpert({ layer: a.layer, expert: a.expert, source: 'command' });
    }
  });

  register('moeLens.debug.killEngine', () => {
    const pid = engine.pid ?? null;
    engine.kill('SIGKILL');
    return pid;
  });
}
