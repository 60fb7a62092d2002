/** @file The "MoE Lens: Routing" panel: the routed-token view (media/routing.js). */
import * as vscode from 'vscode';
import type { RoutingStore } from '../routingStore';
import type { PersistedState } from '../../shared/webviewProtocol';
import { PanelController, webviewOptions, type PanelKind } from './panelController';

export const ROUTING_PANEL: PanelKind = {
  webviewId: 'routing',
  viewType: 'moeLens.routing',
  title: 'MoE Lens: Routing',
  script: 'routing',
  styles: ['common', 'routing'],
  tokenSource: 'panel',
  expertSource: 'panel',
};

/** Opens a new Routing panel, or adopts one VS Code restored after a reload. */
export function createRoutingPanel(
  context: vscode.ExtensionContext,
  store: RoutingStore,
  onDisposed: () => void,
  restored?: { panel: vscode.WebviewPanel; state: PersistedState | null },
): PanelController {
  const panel =
    restored?.panel ??
    vscode.window.createWebviewPanel(ROUTING_PANEL.viewType, ROUTING_PANEL.title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(context));
  return new PanelController(panel, ROUTING_PANEL, context, store, restored?.state ?? null, onDisposed);
}
