/**
 * @file Chart cards on Apache ECharts: a titled card with PNG / SVG / CSV export buttons around
 * one chart. ECharts is used because it has every chart the dashboard needs (heatmap, boxplot,
 * scatter, bars with mark lines) in one tree-shakable package, draws to canvas (fast for
 * E×E and layer×expert grids) and can render the same option to an SVG string for export, and it
 * sets styles only through the CSSOM, so it runs under the webview's strict CSP.
 */
import { BarChart, BoxplotChart, HeatmapChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, MarkLineComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import { button } from './controls';
import { el } from './dom';
import { saveExport, toCsv } from './exporter';
import { cssVar } from './palette';

echarts.use([
  BarChart,
  BoxplotChart,
  HeatmapChart,
  LineChart,
  ScatterChart,
  GridComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
  SVGRenderer,
]);

export type Option = echarts.EChartsCoreOption;
export type Rows = (string | number | null)[][];

/** What the user clicked in a chart. */
export interface ChartClick {
  seriesIndex: number;
  dataIndex: number;
  value: unknown;
  name: string;
}

export interface ChartCard {
  root: HTMLElement;
  /** Extra controls go here (next to the export buttons). */
  tools: HTMLElement;
  update(option: Option, rows: Rows, subtitle?: string): void;
  resize(): void;
  dispose(): void;
}

/** Colours and fonts shared by every chart, read from the theme at draw time. */
export function themeBase(): Option {
  const fg = cssVar('--vscode-foreground') || '#888';
  const lines = cssVar('--vscode-charts-lines') || 'rgba(128,128,128,0.5)';
  return {
    backgroundColor: 'transparent',
    animation: false,
    textStyle: { color: fg, fontFamily: cssVar('--vscode-font-family') || 'sans-serif', fontSize: 11 },
    tooltip: {
      confine: true,
      backgroundColor: cssVar('--vscode-editorHoverWidget-background') || cssVar('--vscode-editorWidget-background') || '#333',
      borderColor: cssVar('--vscode-editorHoverWidget-border') || lines,
      textStyle: { color: fg, fontSize: 12 },
    },
    color: [cssVar('--vscode-charts-blue') || '#3794ff', cssVar('--vscode-charts-orange') || '#d18616'],
    _axis: { axisLine: { lineStyle: { color: lines } }, axisTick: { lineStyle: { color: lines } }, splitLine: { lineStyle: { color: lines, opacity: 0.35 } }, axisLabel: { color: fg }, nameTextStyle: { color: fg } },
  };
}

/** Merge the theme's axis style into each axis of an option. */
export function themed(option: Option): Option {
  const base = themeBase() as Record<string, unknown> & { _axis: Record<string, unknown> };
  const axis = base._axis;
  delete (base as Record<string, unknown>)._axis;
  const fix = (a: unknown): unknown => (Array.isArray(a) ? a.map(fix) : a && typeof a === 'object' ? { ...axis, ...(a as object) } : a);
  const o = { ...base, ...option } as Record<string, unknown>;
  o.tooltip = { ...(base.tooltip as object), ...((option as Record<string, unknown>).tooltip as object) };
  if (o.xAxis) {
    o.xAxis = fix(o.xAxis);
  }
  if (o.yAxis) {
    o.yAxis = fix(o.yAxis);
  }
  return o;
}

export function chartCard(id: string, title: string, height: number, onClick?: (c: ChartClick) => void): ChartCard {
  const root = el('section', 'card');
  root.dataset.chart = id;
  const head = el('div', 'card-head');
  const h = el('h2', undefined, title);
  const sub = el('p', 'card-sub muted');
  const tools = el('div', 'card-tools');
  head.append(h, tools);
  const box = el('div', 'chart');
  box.style.height = `${height}px`;
  root.append(head, sub, box);
  const chart = echarts.init(box, null, { renderer: 'canvas' });
  let option: Option = {};
  let rows: Rows = [];
  if (onClick) {
    chart.on('click', (p) => onClick(p as unknown as ChartClick));
  }
  const bg = (): string => cssVar('--vscode-editor-background') || '#ffffff';
  tools.append(
    button('PNG', `Save "${title}" as PNG`, () => {
      const url = chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: bg() });
      saveExport(`${id}.png`, 'png', url.slice(url.indexOf(',') + 1));
    }),
    button('SVG', `Save "${title}" as SVG`, () => {
      // Render the same option once more with the SVG renderer, off-screen.
      const svg = echarts.init(null, null, { renderer: 'svg', ssr: true, width: box.clientWidth || 600, height });
      svg.setOption({ ...option, backgroundColor: bg() });
      const text = svg.renderToSVGString();
      svg.dispose();
      saveExport(`${id}.svg`, 'svg', text);
    }),
    button('CSV', `Save the data of "${title}" as CSV`, () => saveExport(`${id}.csv`, 'csv', toCsv(rows))),
  );
  return {
    root,
    tools,
    update(next, nextRows, subtitle) {
      option = themed(next);
      rows = nextRows;
      sub.textContent = subtitle ?? '';
      sub.hidden = !subtitle;
      root.dataset.items = String(Math.max(0, rows.length - 1));
      chart.setOption(option, true);
    },
    resize() {
      chart.resize();
    },
    dispose() {
      chart.dispose();
    },
  };
}

/** A card holding an HTML table, with CSV export of the same rows. */
export function tableCard(id: string, title: string): { root: HTMLElement; body: HTMLElement; tools: HTMLElement; setRows(rows: Rows, subtitle?: string): void } {
  const root = el('section', 'card table-card');
  root.dataset.table = id;
  const head = el('div', 'card-head');
  const tools = el('div', 'card-tools');
  const sub = el('p', 'card-sub muted');
  head.append(el('h2', undefined, title), tools);
  const body = el('div', 'table-wrap');
  root.append(head, sub, body);
  let rows: Rows = [];
  tools.append(button('CSV', `Save "${title}" as CSV`, () => saveExport(`${id}.csv`, 'csv', toCsv(rows))));
  return {
    root,
    body,
    tools,
    setRows(next, subtitle) {
      rows = next;
      sub.textContent = subtitle ?? '';
      sub.hidden = !subtitle;
      root.dataset.items = String(Math.max(0, rows.length - 1));
    },
  };
}
