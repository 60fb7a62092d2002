/**
 * @file What the dashboard's counterfactual charts show: the active pass's effect per token, the
 * k sweep (mean KL and mean Δsurprisal for k = 1…E), and the "which experts matter" rows of
 * ablate-each. From the host's results to an ECharts option plus its CSV rows; no DOM but theme colours.
 */
import type { CounterfactualSummaryRow } from '../shared/counterfactual';
import type { CounterfactualOverlay, CounterfactualSweep } from '../shared/counterfactualView';
import { visibleTokenText } from '../shared/tokenText';
import type { RoutingTrace } from '../shared/trace';
import type { Rows } from './charts';
import type { ChartData } from './dashboardCharts';
import { escapeHtml } from './dom';
import { KL_COLORS, klStep } from './klScale';
import { cssVar } from './palette';

const fg = (): string => cssVar('--vscode-foreground') || '#888';

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Mean and max KL, mean Δsurprisal over the covered tokens: the active pass in three figures. */
export function overlaySummary(cf: CounterfactualOverlay): { meanKl: number | null; maxKl: number | null; meanSurprisalDelta: number | null } {
  const kl = cf.kl.filter((x): x is number => x !== null);
  const d = cf.surprisalDelta.filter((x): x is number => x !== null);
  return { meanKl: mean(kl), maxKl: kl.length ? Math.max(...kl) : null, meanSurprisalDelta: mean(d) };
}

/** KL per token as bars in the token view's colours, Δsurprisal as a line on a second axis. */
export function effectChart(trace: RoutingTrace, cf: CounterfactualOverlay): ChartData {
  const rows: Rows = [['token', 'text', 'kl_nats', 'surprisal_delta_nats']];
  cf.kl.forEach((kl, t) => rows.push([t, trace.tokens[t]?.text ?? null, kl, cf.surprisalDelta[t] ?? null]));
  const label = (t: number): string => escapeHtml(visibleTokenText(trace.tokens[t]?.text ?? null, trace.tokens[t]?.id ?? null));
  return {
    rows,
    subtitle: `${cf.mode}: bars = KL(model ‖ counterfactual) of each token's next-token distribution (nats, coloured as in the token view); line = Δsurprisal of the actual next token (counterfactual − model).`,
    option: {
      grid: { left: 52, right: 52, top: 28, bottom: 36 },
      tooltip: {
        trigger: 'axis',
        formatter: (ps: { dataIndex: number }[]) => {
          const t = ps[0]?.dataIndex ?? 0;
          const d = cf.surprisalDelta[t];
          return `#${t} <b>${label(t)}</b><br>KL ${cf.kl[t]?.toFixed(4) ?? '–'} nats<br>Δsurprisal ${d === null || d === undefined ? '–' : d.toFixed(3)} nats`;
        },
      },
      xAxis: { type: 'category', data: cf.kl.map((_, t) => String(t)), name: 'token', nameLocation: 'middle', nameGap: 22 },
      yAxis: [
        { type: 'value', name: 'KL (nats)' },
        { type: 'value', name: 'Δsurprisal', splitLine: { show: false } },
      ],
      series: [
        {
          type: 'bar',
          name: 'KL',
          data: cf.kl.map((kl) => ({ value: kl, itemStyle: { color: KL_COLORS[Math.max(0, klStep(kl))] } })),
          barCategoryGap: '10%',
        },
        { type: 'line', name: 'Δsurprisal', yAxisIndex: 1, data: cf.surprisalDelta, symbol: 'none', lineStyle: { width: 1 }, connectNulls: false },
      ],
    },
  };
}

/** Mean KL (bars) and mean Δsurprisal (line) for every k; the model's own k marked. */
export function kSweepChart(sweep: CounterfactualSweep, ownK: number): ChartData {
  const rows: Rows = [['k', 'mean_kl_nats', 'max_kl_nats', 'mean_surprisal_delta_nats']];
  sweep.rows.forEach((r, i) => rows.push([i + 1, r.meanKl, r.maxKl, r.meanSurprisalDelta]));
  const ks = sweep.rows.map((_, i) => String(i + 1));
  return {
    rows,
    subtitle: `One pass per k, every MoE layer routed to its top-k (the model's own k = ${ownK} gives KL 0). Mean over the document's tokens${sweep.windows > 1 ? `, ${sweep.windows} windows` : ''}.`,
    option: {
      grid: { left: 52, right: 52, top: 32, bottom: 36 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: ks, name: 'k', nameLocation: 'middle', nameGap: 22 },
      yAxis: [
        { type: 'value', name: 'mean KL (nats)' },
        { type: 'value', name: 'mean Δsurprisal', splitLine: { show: false } },
      ],
      series: [
        {
          type: 'bar',
          name: 'mean KL',
          data: sweep.rows.map((r) => r.meanKl),
          markLine: {
            symbol: 'none',
            silent: true,
            lineStyle: { type: 'dashed', color: fg() },
            label: { formatter: 'model k', color: fg() },
            data: [{ xAxis: String(ownK) }],
          },
        },
        { type: 'line', name: 'mean Δsurprisal', yAxisIndex: 1, data: sweep.rows.map((r) => r.meanSurprisalDelta), symbolSize: 6 },
      ],
    },
  };
}

export type ExpertSortKey = 'expert' | 'meanKl' | 'maxKl' | 'meanSurprisalDelta';

/** The ablate-each rows with their expert (row e removed expert e), sorted; nulls last. */
export function expertRows(sweep: CounterfactualSweep, key: ExpertSortKey, descending: boolean): (CounterfactualSummaryRow & { expert: number })[] {
  const rows = sweep.rows.map((r, expert) => ({ ...r, expert }));
  const value = (r: (typeof rows)[number]): number | null => (key === 'expert' ? r.expert : r[key]);
  return rows.sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    if (x === null || y === null) {
      return x === null ? (y === null ? a.expert - b.expert : 1) : -1;
    }
    return (descending ? y - x : x - y) || a.expert - b.expert;
  });
}

export function expertCsv(sweep: CounterfactualSweep): Rows {
  return [['layer', 'expert', 'mean_kl_nats', 'max_kl_nats', 'mean_surprisal_delta_nats'], ...sweep.rows.map((r, e) => [sweep.layer, e, r.meanKl, r.maxKl, r.meanSurprisalDelta])];
}
