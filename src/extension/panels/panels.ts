/**
 * @file Entry point for the webview panels: one Routing and one Dashboard panel at a time, each
 * restored by a WebviewPanelSerializer after a window reload (with the state the page saved).
 */
import * as vscode from 'vscode';
import type { Counterfactuals } from '../counterfactuals';
import type { RoutingStore } from '../routingStore';
import type { TraceComparison } from '../../shared/traceCompare';
import { isPersistedState } from '../../shared/webviewProtocol';
import { DASHBOARD_PANEL } from './dashboardPanel';
import { openPanel, type PanelController, type RestoredPanel } from './panelController';
import { ROUTING_PANEL } from './routingPanel';

export interface Panels {
  showRouting(): void;
  showDashboard(): void;
  /** Opens the dashboard with the Compare view; `onReveal` gets the tokens the user clicks there. */
  showCompare(compare: TraceComparison, onReveal: (side: 'a' | 'b', tokenIndex: number) => void): void;
}

export function registerPanels(context: vscode.ExtensionContext, store: RoutingStore, counterfactuals: Counterfactuals): Panels {
  let routing: PanelController | undefined;
  let dashboard: PanelController | undefined;
  const openRouting = (restored?: RestoredPanel): PanelController => openPanel(ROUTING_PANEL, context, store, counterfactuals, () => (routing = undefined), restored);
  const openDashboard = (restored?: RestoredPanel): PanelController => openPanel(DASHBOARD_PANEL, context, store, counterfactuals, () => (dashboard = undefined), restored);

  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(ROUTING_PANEL.viewType, {
      async deserializeWebviewPanel(panel, state: unknown) {
        routing?.panel.dispose();
        routing = openRouting({ panel, state: isPersistedState(state) ? state : null });
      },
    }),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_PANEL.viewType, {
      async deserializeWebviewPanel(panel, state: unknown) {
        dashboard?.panel.dispose();
        dashboard = openDashboard({ panel, state: isPersistedState(state) ? state : null });
      },
    }),
    { dispose: () => (routing?.panel.dispose(), dashboard?.panel.dispose()) },
  );

  return {
    showRouting() {
      if (routing) {
        routing.reveal();
      } else {
        routing = openRouting();
      }
    },
    showDashboard() {
      if (dashboard) {
        dashboard.reveal();
      } else {
        dashboard = openDashboard();
      }
    },
    showCompare(compare, onReveal) {
      this.showDashboard();
      dashboard!.onCompareReveal = onReveal;
      dashboard!.setCompare(compare);
    },
  };
}
