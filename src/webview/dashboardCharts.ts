/**
 * @file What each dashboard chart shows: from a trace and its layer summaries to an ECharts
 * option plus the rows of its CSV. No DOM here beyond reading theme colours.
 */
import {
  coActivation,
  expertTopTokens,
  fiveNumber,
  mean,
  repeatedTokenConsistency,
  transitions,
  type LayerSummary,
} from '../shared/routingStats';
import type { LayerRouting, RoutingTrace } from '../shared/trace';
import { missingParts, NOT_IN_TRACE, traceFields, type TraceFields } from '../shared/traceFields';
import type { Option, Rows } from './charts';
import { escapeHtml } from './dom';
import { visibleTokenText } from '../shared/tokenText';
import { cssVar, hex, rgba, toRgb, type Rgb } from './palette';

export interface ChartData {
  option: Option;
  rows: Rows;
  subtitle?: string;
}

export interface Ctx {
  trace: RoutingTrace;
  summaries: LayerSummary[];
  /** The selected layer's summary and routing. */
  summary: LayerSummary;
  routing: LayerRouting;
  palette: Rgb[];
  highlight: { layer: number; expert: number } | null;
}

/** " Not in this trace: router logits." for a chart whose figure needs parts the trace lacks (an imported trace); '' otherwise. */
export function lacking(ctx: Ctx, needs: readonly (keyof TraceFields)[]): string {
  const missing = missingParts(traceFields(ctx.trace), needs);
  return missing.length ? `${missing.join(', ')}: ${NOT_IN_TRACE}.` : '';
}

/** An empty chart that says which parts it needs and this trace lacks. */
function notInTrace(what: string, missing: string, header: string[]): ChartData {
  return { rows: [header], subtitle: `${what}: ${missing}`, option: { xAxis: { show: false }, yAxis: { show: false }, series: [] } };
}

const expertNames = (E: number): string[] => Array.from({ length: E }, (_, i) => `E${i}`);

function themeRgb(name: string, fallback: Rgb): Rgb {
  return toRgb(cssVar(name)) ?? fallback;
}

/** Diverging ramp around the uniform load: under-used cool, neutral at uniform, over-used warm. */
function divergingColors(): string[] {
  const bg = themeRgb('--vscode-editor-background', [255, 255, 255]);
  const cool = themeRgb('--vscode-charts-blue', [55, 148, 255]);
  const warm = themeRgb('--vscode-charts-orange', [209, 134, 22]);
  const mid: Rgb = [Math.round(bg[0] * 0.85 + 64 * 0.15), Math.round(bg[1] * 0.85 + 64 * 0.15), Math.round(bg[2] * 0.85 + 64 * 0.15)];
  return [hex(cool), hex(mid), hex(warm)];
}

function sequentialColors(): string[] {
  const bg = themeRgb('--vscode-editor-background', [255, 255, 255]);
  const c = themeRgb('--vscode-charts-blue', [55, 148, 255]);
  return [hex(bg), hex(c)];
}

function isHighlighted(ctx: Ctx, layer: number, e: number): boolean {
  return ctx.highlight !== null && ctx.highlight.layer === layer && ctx.highlight.expert === e;
}

// ---- load ------------------------------------------------------------------------------------

export function loadHeatmap(ctx: Ctx): ChartData {
  const { trace, summaries } = ctx;
  const E = trace.model.numExperts;
  const uniform = trace.model.topK / E;
  const data: [number, number, number][] = [];
  const rows: Rows = [['layer', 'expert', 'token_share', 'slot_share']];
  summaries.forEach((s, y) => {
    s.tokenShare.forEach((v, x) => {
      data.push([x, y, v]);
      rows.push([s.layer, x, v, s.slotShare[x]!]);
    });
  });
  return {
    rows,
    subtitle: `Share of tokens routed to each expert. Neutral colour = uniform k/E = ${uniform.toFixed(3)}; blue under, orange over (saturates at 2×). Click a cell to highlight that expert.`,
    option: {
      grid: { left: 48, right: 16, top: 8, bottom: 64 },
      tooltip: {
        formatter: (p: { value: [number, number, number] }) =>
          `Layer ${summaries[p.value[1]]!.layer}, E${p.value[0]}: ${(p.value[2] * 100).toFixed(1)}% of tokens (${(p.value[2] / uniform).toFixed(2)}× uniform)`,
      },
      xAxis: { type: 'category', data: expertNames(E), name: 'expert', nameLocation: 'middle', nameGap: 22, splitArea: { show: false } },
      yAxis: { type: 'category', data: summaries.map((s) => `L${s.layer}`), inverse: true },
      visualMap: {
        min: 0,
        max: 2 * uniform,
        calculable: false,
        orient: 'horizontal',
        left: 'center',
        bottom: 0,
        itemHeight: 160,
        itemWidth: 10,
        text: ['2× uniform', '0'],
        textStyle: { color: cssVar('--vscode-foreground') || '#888' },
        inRange: { color: divergingColors() },
      },
      series: [
        {
          type: 'heatmap',
          data,
          itemStyle: { borderColor: cssVar('--vscode-editor-background') || '#fff', borderWidth: E > 32 ? 0 : 1 },
          emphasis: { itemStyle: { borderColor: cssVar('--vscode-focusBorder') || '#07f', borderWidth: 2 } },
        },
      ],
    },
  };
}

export function expertLoad(ctx: Ctx): ChartData {
  const { trace, summary: s } = ctx;
  const E = trace.model.numExperts;
  const rows: Rows = [['expert', 'slot_share', 'token_share', 'mean_router_prob']];
  for (let e = 0; e < E; e++) {
    rows.push([e, s.slotShare[e]!, s.tokenShare[e]!, s.meanProb?.[e] ?? null]);
  }
  const dim = ctx.highlight?.layer === s.layer;
  return {
    rows,
    subtitle: `Layer ${s.layer}: bars f_i = share of routed slots (Σ 1), line P_i = mean router probability; dashed = uniform 1/E. Click a bar to highlight the expert.${s.meanProb ? '' : ` P_i: router probabilities ${NOT_IN_TRACE}.`}`,
    option: {
      grid: { left: 48, right: 16, top: 28, bottom: 28 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: expertNames(E) },
      yAxis: { type: 'value', name: 'share' },
      series: [
        {
          type: 'bar',
          name: 'f_i (slots)',
          data: s.slotShare.map((v, e) => ({
            value: v,
            itemStyle: { color: rgba(ctx.palette[e]!, dim && !isHighlighted(ctx, s.layer, e) ? 0.3 : 0.9) },
          })),
          markLine: {
            symbol: 'none',
            silent: true,
            label: { formatter: 'uniform', position: 'insideEndTop', color: cssVar('--vscode-foreground') || '#888' },
            lineStyle: { type: 'dashed', color: cssVar('--vscode-foreground') || '#888' },
            data: [{ yAxis: 1 / E }],
          },
        },
        ...(s.meanProb ? [{ type: 'line', name: 'P_i (mean prob)', data: s.meanProb, symbolSize: 5, lineStyle: { width: 1.5 } }] : []),
      ],
    },
  };
}

export function balanceRows(ctx: Ctx): Rows {
  const rows: Rows = [['layer', 'aux_loss', 'cv', 'max_over_mean', 'z_loss', 'same_expert_rate', 'same_expert_baseline', 'mean_entropy', 'mean_margin']];
  for (const s of ctx.summaries) {
    rows.push([s.layer, s.auxLoss, s.cv, s.maxOverMean, s.zLoss, s.sameExpertRate, s.sameExpertBaseline, mean(s.entropy.filter(Number.isFinite)), mean(s.margin.filter(Number.isFinite))]);
  }
  return rows;
}

// ---- confidence ------------------------------------------------------------------------------

function boxplot(ctx: Ctx, pick: (s: LayerSummary) => number[], what: string, unit: string, extra: Option = {}): ChartData {
  const rows: Rows = [['layer', 'min', 'q1', 'median', 'q3', 'max', 'mean']];
  const data: number[][] = [];
  for (const s of ctx.summaries) {
    const v = pick(s);
    const f = fiveNumber(v) ?? [NaN, NaN, NaN, NaN, NaN];
    data.push([...f]);
    rows.push([s.layer, ...f, mean(v.filter(Number.isFinite))]);
  }
  const c = toRgb(cssVar('--vscode-charts-blue')) ?? [55, 148, 255];
  return {
    rows,
    subtitle: `${what} per token, by layer (box: quartiles, whiskers: min–max)${unit}.`,
    option: {
      grid: { left: 48, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'category', data: ctx.summaries.map((s) => `L${s.layer}`) },
      yAxis: { type: 'value', scale: false },
      series: [{ type: 'boxplot', data, itemStyle: { color: rgba(c, 0.25), borderColor: rgba(c, 1) }, ...extra }],
    },
  };
}

export function entropyBox(ctx: Ctx): ChartData {
  const missing = lacking(ctx, ['scores']);
  if (missing) {
    return notInTrace('Router entropy', missing, ['layer', 'min', 'q1', 'median', 'q3', 'max', 'mean']);
  }
  const max = Math.log(ctx.trace.model.numExperts);
  const d = boxplot(ctx, (s) => s.entropy, 'Router entropy', `; dashed = ln E = ${max.toFixed(2)} nats (uniform)`, {
    markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: cssVar('--vscode-foreground') || '#888' }, label: { formatter: 'ln E', position: 'insideEndTop' }, data: [{ yAxis: max }] },
  });
  return d;
}

export function marginBox(ctx: Ctx): ChartData {
  const missing = lacking(ctx, ['scores']);
  if (missing) {
    return notInTrace('Margin to the near miss', missing, ['layer', 'min', 'q1', 'median', 'q3', 'max', 'mean']);
  }
  // The shared definition (tokenFacts.ts): on what the family ranks by, e.g. DeepSeek-V3's score + bias.
  const by = ctx.trace.layers.some((l) => l.selection) ? 'score + bias' : 'score';
  return boxplot(ctx, (s) => s.margin, `Margin (by ${by}) between the weakest chosen expert and the near miss`, '; near 0 = a coin flip');
}

export function surprisalScatter(ctx: Ctx): ChartData {
  const missing = lacking(ctx, ['surprisal', 'scores']);
  if (missing) {
    return notInTrace('Surprisal against routing entropy', missing, ['token', 'text', 'entropy', 'surprisal', 'top1']);
  }
  const { trace, summary: s, routing } = ctx;
  const rows: Rows = [['token', 'text', 'entropy', 'surprisal', 'top1']];
  const byExpert = new Map<number, [number, number, number][]>();
  for (let t = 0; t < trace.tokens.length; t++) {
    const y = trace.surprisal[t];
    const x = s.entropy[t]!;
    const top = routing.experts![t]![0] ?? 0;
    rows.push([t, trace.tokens[t]!.text ?? `#${trace.tokens[t]!.id}`, x, y ?? null, top]);
    if (y === null || y === undefined || !Number.isFinite(x) || !Number.isFinite(y)) {
      continue;
    }
    const list = byExpert.get(top) ?? [];
    list.push([x, y, t]);
    byExpert.set(top, list);
  }
  // Past a few thousand points a scatter is ink, not information: draw an even sample (CSV keeps all).
  const MAX_POINTS = 4000;
  const total = [...byExpert.values()].reduce((a, d) => a + d.length, 0);
  if (total > MAX_POINTS) {
    const every = total / MAX_POINTS;
    for (const [e, d] of byExpert) {
      byExpert.set(e, d.filter((_, i) => Math.floor(i / every) !== Math.floor((i - 1) / every)));
    }
  }
  const big = total > MAX_POINTS;
  return {
    rows,
    subtitle: `Layer ${s.layer}: each point a token, coloured by its top-1 expert${big ? ` (an even sample of ${MAX_POINTS} of ${total})` : ''}. Click a point to select the token.`,
    option: {
      grid: { left: 48, right: 16, top: 28, bottom: 36 },
      tooltip: {
        trigger: 'item',
        formatter: (p: { value: [number, number, number] }) => {
          const tok = trace.tokens[p.value[2]]!;
          return `#${p.value[2]} ${escapeHtml(visibleTokenText(tok.text, tok.id))}<br>entropy ${p.value[0].toFixed(3)}, surprisal ${p.value[1].toFixed(3)}`;
        },
      },
      xAxis: { type: 'value', name: 'router entropy (nats)', nameLocation: 'middle', nameGap: 22, scale: true },
      yAxis: { type: 'value', name: 'surprisal (nats)', scale: true },
      series: [...byExpert.entries()].map(([e, data]) => ({
        type: 'scatter',
        name: `E${e}`,
        data,
        symbolSize: big ? 3 : 6,
        large: big,
        itemStyle: { color: rgba(ctx.palette[e]!, big ? 0.5 : 0.8) },
      })),
    },
  };
}

// ---- structure -------------------------------------------------------------------------------

function matrixChart(ctx: Ctx, m: number[][], rowName: string, colName: string, subtitle: string, skipDiagonal: boolean): ChartData {
  const E = ctx.trace.model.numExperts;
  const data: [number, number, number | '-'][] = [];
  const rows: Rows = [[`${rowName} \\ ${colName}`, ...expertNames(E)]];
  let max = 0;
  m.forEach((r, i) => {
    rows.push([`E${i}`, ...r]);
    r.forEach((v, j) => {
      if (skipDiagonal && i === j) {
        data.push([j, i, '-']);
        return;
      }
      data.push([j, i, v]);
      max = Math.max(max, v);
    });
  });
  return {
    rows,
    subtitle,
    option: {
      grid: { left: 56, right: 16, top: 8, bottom: 64 },
      tooltip: { formatter: (p: { value: [number, number, number] }) => `${rowName} E${p.value[1]} · ${colName} E${p.value[0]}: ${p.value[2]} tokens` },
      xAxis: { type: 'category', data: expertNames(E), name: colName, nameLocation: 'middle', nameGap: 22 },
      yAxis: { type: 'category', data: expertNames(E), name: rowName, inverse: true },
      visualMap: {
        min: 0,
        max: Math.max(1, max),
        orient: 'horizontal',
        left: 'center',
        bottom: 0,
        itemHeight: 160,
        itemWidth: 10,
        textStyle: { color: cssVar('--vscode-foreground') || '#888' },
        inRange: { color: sequentialColors() },
      },
      series: [{ type: 'heatmap', data, itemStyle: { borderColor: cssVar('--vscode-editor-background') || '#fff', borderWidth: E > 32 ? 0 : 1 } }],
    },
  };
}

export function coActivationChart(ctx: Ctx): ChartData {
  const m = coActivation(ctx.routing.experts!, ctx.trace.model.numExperts);
  return matrixChart(ctx, m, 'expert', 'with expert', `Layer ${ctx.summary.layer}: tokens that chose both experts (diagonal left out; it is each expert's token count). Click a cell to highlight the row's expert.`, true);
}

export function transitionChart(ctx: Ctx, a: LayerRouting, b: LayerRouting): ChartData {
  const m = transitions(a.experts!, b.experts!, ctx.trace.model.numExperts);
  return matrixChart(ctx, m, `L${a.layer} top-1`, `L${b.layer} top-1`, `Tokens whose top-1 expert is the row's in layer ${a.layer} and the column's in layer ${b.layer}.`, false);
}

export function sameExpertChart(ctx: Ctx): ChartData {
  const rows: Rows = [['layer', 'same_expert_rate', 'independent_baseline']];
  for (const s of ctx.summaries) {
    rows.push([s.layer, s.sameExpertRate, s.sameExpertBaseline]);
  }
  const c = toRgb(cssVar('--vscode-charts-blue')) ?? [55, 148, 255];
  return {
    rows,
    subtitle: 'Share of consecutive token pairs with the same top-1 expert; line = what independent draws at the observed loads would give (Σ q²).',
    option: {
      grid: { left: 48, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: ctx.summaries.map((s) => `L${s.layer}`) },
      yAxis: { type: 'value', max: 1 },
      series: [
        { type: 'bar', name: 'same expert', data: ctx.summaries.map((s) => s.sameExpertRate), itemStyle: { color: rgba(c, 0.85) } },
        { type: 'line', name: 'baseline', data: ctx.summaries.map((s) => s.sameExpertBaseline), symbolSize: 5 },
      ],
    },
  };
}

// ---- vocabulary ------------------------------------------------------------------------------

export function consistencyChart(ctx: Ctx, limit = 24): ChartData {
  // Repeats are found by token id.
  const missing = lacking(ctx, ['ids']);
  if (missing) {
    return notInTrace('Routing consistency of repeated tokens', missing, ['token_id', 'text', 'count', 'modal_expert', 'consistency']);
  }
  const rep = repeatedTokenConsistency(ctx.trace.tokens as { id: number; text: string | null }[], ctx.routing.experts!, ctx.trace.model.numExperts);
  const rows: Rows = [['token_id', 'text', 'count', 'modal_expert', 'consistency']];
  for (const r of rep) {
    rows.push([r.id, r.text ?? '', r.count, r.modalExpert, r.consistency]);
  }
  const top = rep.slice(0, limit).reverse();
  return {
    rows,
    subtitle: rep.length
      ? `Layer ${ctx.summary.layer}: for the ${Math.min(limit, rep.length)} most frequent repeated tokens, the share of occurrences routed (top-1) to their usual expert (bar colour).`
      : 'No token occurs twice in this document, so there is no consistency to measure.',
    option: {
      grid: { left: 110, right: 24, top: 8, bottom: 28 },
      tooltip: {
        formatter: (p: { dataIndex: number }) => {
          const r = top[p.dataIndex]!;
          return `${escapeHtml(visibleTokenText(r.text, r.id))} ×${r.count}: ${(r.consistency * 100).toFixed(0)}% to E${r.modalExpert}`;
        },
      },
      xAxis: { type: 'value', max: 1, name: 'consistency' },
      yAxis: { type: 'category', data: top.map((r) => `${visibleTokenText(r.text, r.id).slice(0, 14)} ×${r.count}`) },
      series: [{ type: 'bar', data: top.map((r) => ({ value: r.consistency, itemStyle: { color: rgba(ctx.palette[r.modalExpert]!, 0.85) } })) }],
    },
  };
}

export function topTokensRows(ctx: Ctx, n = 8): { rows: Rows; top: ReturnType<typeof expertTopTokens>; missing: string } {
  // Tokens are counted by id: without ids there is nothing to count.
  const missing = lacking(ctx, ['ids']);
  if (missing) {
    return { rows: [['expert', 'rank', 'token_id', 'text', 'count']], top: [], missing };
  }
  const top = expertTopTokens(ctx.trace.tokens as { id: number; text: string | null }[], ctx.routing.experts!, ctx.trace.model.numExperts, n);
  const rows: Rows = [['expert', 'rank', 'token_id', 'text', 'count']];
  top.forEach((list, e) => list.forEach((t, r) => rows.push([e, r + 1, t.id, t.text ?? '', t.count])));
  return { rows, top, missing };
}
