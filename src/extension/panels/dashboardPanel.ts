/** @file The "MoE Lens: Dashboard" panel: routing statistics charts (media/dashboard.js). */
import * as vscode from 'vscode';
import type { RoutingStore } from '../routingStore';
import type { PersistedState } from '../../shared/webviewProtocol';
import { PanelController, webviewOptions, type PanelKind } from './panelController';

export const DASHBOARD_PANEL: PanelKind = {
  webviewId: 'dashboard',
  viewType: 'moeLens.dashboard',
  title: 'MoE Lens: Dashboard',
  script: 'dashboard',
  styles: ['common', 'dashboard'],
  tokenSource: 'dashboard',
  expertSource: 'dashboard',
};

/** Opens a new Dashboard panel, or adopts one VS Code restored after a reload. */
export function createDashboardPanel(
  context: vscode.ExtensionContext,
  store: RoutingStore,
  onDisposed: () => void,
  restored?: { panel: vscode.WebviewPanel; state: PersistedState | null },
): PanelController {
  const panel =
    restored?.panel ??
    vscode.window.createWebviewPanel(DASHBOARD_PANEL.viewType, DASHBOARD_PANEL.title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(context));
  return new PanelController(panel, DASHBOARD_PANEL, context, store, restored?.state ?? null, onDisposed);
}
