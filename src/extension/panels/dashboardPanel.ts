/** @file The "MoE Lens: Dashboard" panel: routing statistics charts (media/dashboard.js). */
import type { PanelKind } from './panelController';

export const DASHBOARD_PANEL: PanelKind = {
  webviewId: 'dashboard',
  viewType: 'moeLens.dashboard',
  title: 'MoE Lens: Dashboard',
  script: 'dashboard',
  styles: ['common', 'dashboard'],
  tokenSource: 'dashboard',
  expertSource: 'dashboard',
};

