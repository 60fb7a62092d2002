/** @file The "MoE Lens: Routing" panel: the routed-token view (media/routing.js). */
import type { PanelKind } from './panelController';

export const ROUTING_PANEL: PanelKind = {
  webviewId: 'routing',
  viewType: 'moeLens.routing',
  title: 'MoE Lens: Routing',
  script: 'routing',
  styles: ['common', 'routing'],
  tokenSource: 'panel',
  expertSource: 'panel',
};

