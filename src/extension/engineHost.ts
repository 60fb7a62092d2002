/**
 * @file The engine client as the extension uses it: made from the settings, kept in step with
 * them, its log in the output channel, and its deaths announced with their reason (and the
 * "Restart Engine" action once the automatic restart budget is spent).
 */
import * as vscode from 'vscode';
import { readConfig } from './config';
import { EngineClient } from './engineClient';

export function createEngine(context: vscode.ExtensionContext, output: vscode.LogOutputChannel): EngineClient {
  const cfg = readConfig();
  const engine = new EngineClient({
    enginePath: context.asAbsolutePath('dist/engine.js'),
    memoryLimitMb: cfg.memoryLimitMb,
    requestTimeoutMs: cfg.requestTimeoutSeconds * 1000,
    threads: cfg.engineThreads,
  });
  context.subscriptions.push(
    engine.onDidStart((pid) => output.info(`engine started (pid ${pid}, memory budget ${readConfig().memoryLimitMb || 'default'} MB, threads ${readConfig().engineThreads || 'every core'})`)),
    engine.onDidLog((l) => {
      const line = `engine: ${l.message}`;
      if (l.level === 'error' || l.level === 'stderr') {
        output.error(line);
      } else if (l.level === 'warn') {
        output.warn(line);
      } else {
        output.info(line);
      }
    }),
    engine.onDidExit((exit) => {
      if (exit.expected) {
        output.info(`engine stopped (${exit.reason})`);
        return;
      }
      output.error(`engine died: ${exit.reason}`);
      const message = exit.gaveUp
        ? `MoE Lens: the engine stopped (${exit.reason}) and has crashed too often to restart automatically.`
        : `MoE Lens: the engine stopped (${exit.reason}). It restarts with the next analysis.`;
      void vscode.window.showErrorMessage(message, 'Restart Engine', 'Show Log').then((pick) => {
        if (pick === 'Restart Engine') {
          void vscode.commands.executeCommand('moeLens.restartEngine');
        } else if (pick === 'Show Log') {
          output.show();
        }
      });
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const restartSettings = ['moeLens.memoryLimitMb', 'moeLens.engineThreads'].filter((s) => e.affectsConfiguration(s));
      if (restartSettings.length > 0 || e.affectsConfiguration('moeLens.requestTimeoutSeconds')) {
        const c = readConfig();
        engine.updateOptions({ memoryLimitMb: c.memoryLimitMb, requestTimeoutMs: c.requestTimeoutSeconds * 1000, threads: c.engineThreads });
        if (restartSettings.length > 0 && engine.state === 'running') {
          const what = restartSettings.includes('moeLens.engineThreads') ? 'thread count' : 'memory budget';
          void vscode.window.showInformationMessage(`MoE Lens: the new ${what} applies when the engine restarts.`, 'Restart Engine').then((pick) => {
            if (pick) {
              void vscode.commands.executeCommand('moeLens.restartEngine');
            }
          });
        }
      }
    }),
    { dispose: () => void engine.dispose() },
  );
  return engine;
}
