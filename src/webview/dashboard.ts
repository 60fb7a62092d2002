/**
 * @file Browser side of the "MoE Lens: Dashboard" panel: load and balance, router confidence,
 * co-activation, layer transitions, consecutive-token stickiness and vocabulary specialisation,
 * each an ECharts chart (or table) with PNG / SVG / CSV export. Clicking an expert highlights it
 * everywhere (posted to the host, which tells the token view and the editor).
 */
import { EMPTY_COUNTERFACTUALS, type CounterfactualChoice, type CounterfactualState } from '../shared/counterfactualView';
import { effectiveLayer } from '../shared/effectiveLayer';
import { mean, summarizeTrace, type LayerSummary } from '../shared/routingStats';
import { restoreScores } from '../shared/traceCodec';
import type { LayerRouting, RoutingTrace } from '../shared/trace';
import {
  CancelCounterfactualCommand,
  DidChangeCounterfactualNotification,
  DidProgressCounterfactualNotification,
  RunCounterfactualCommand,
  DidChangeCompareNotification,
  DidChangeExpertHighlightNotification,
  DidChangeLayerNotification,
  DidChangeStateNotification,
  ExportDidSaveNotification,
  HighlightExpertCommand,
  ReadyCommand,
  SelectLayerCommand,
  SelectTokenCommand,
  type ExpertRef,
  type State,
} from '../shared/webviewProtocol';
import { chartCard, tableCard, type ChartCard, type ChartClick } from './charts';
import { createCompareView } from './compare';
import { select } from './controls';
import { counterfactualBar } from './counterfactualBar';
import { counterfactualCards } from './counterfactualCards';
import {
  balanceRows,
  coActivationChart,
  consistencyChart,
  entropyBox,
  expertLoad,
  loadHeatmap,
  marginBox,
  sameExpertChart,
  surprisalScatter,
  topTokensRows,
  transitionChart,
  lacking,
  type ChartData,
  type Ctx,
} from './dashboardCharts';
import { missingParts, traceFields } from '../shared/traceFields';
import { el, fmt } from './dom';
import { visibleTokenText } from '../shared/tokenText';
import { onExportSaved } from './exporter';
import { expertPalette, rgba, type Rgb } from './palette';
import { loadPersisted, onHostMessage, post, savePersisted } from './vscodeApi';

const persisted = loadPersisted('dashboard');
let state: State | null = null;
let summaries: LayerSummary[] = [];
let palette: Rgb[] = [];
let pair: [number, number] | null = persisted.transitionLayers;
/** The document's counterfactuals, as the host last sent them. */
let cf: CounterfactualState = EMPTY_COUNTERFACTUALS;

// ---- skeleton --------------------------------------------------------------------------------

const app = document.getElementById('app') ?? document.body;
const header = el('header', 'toolbar');
const title = el('div', 'title', 'Dashboard');
const modelInfo = el('div', 'model muted');
const layerSelect = select('Layer', (v) => pickLayer(Number(v)));
header.append(title, modelInfo, layerSelect.root);
const runCounterfactual = (choice: CounterfactualChoice): void => {
  if (state?.uri) {
    post({ method: RunCounterfactualCommand, params: { uri: state.uri, choice } });
  }
};
const cancelCounterfactual = (): void => {
  if (state?.uri) {
    post({ method: CancelCounterfactualCommand, params: { uri: state.uri } });
  }
};
const bar = counterfactualBar(runCounterfactual, cancelCounterfactual);
const cfCards = counterfactualCards({ run: runCounterfactual, cancel: cancelCounterfactual, expert: (layer, e) => toggleExpert(layer, e) });
const figures = el('div', 'figures');
const grid = el('main', 'grid');
const empty = el('p', 'empty muted', 'No analysis yet. Run "MoE Lens: Analyze Document" on a file.');
const scroll = el('div', 'dash-scroll');
const compare = createCompareView();
scroll.append(compare.root, figures, cfCards.root, grid);
app.append(header, bar.root, empty, scroll);

const onExpertCell = (c: ChartClick): void => {
  const v = c.value as [number, number];
  const l = summaries[v[1]];
  if (l) {
    pickLayer(l.layer);
    toggleExpert(l.layer, v[0]);
  }
};
const cards: Record<string, ChartCard> = {
  heatmap: chartCard('load-heatmap', 'Expert load by layer', 300, onExpertCell),
  load: chartCard('expert-load', 'Expert load and balance (selected layer)', 260, (c) => {
    if (c.seriesIndex === 0 && state?.layer !== null && state?.layer !== undefined) {
      toggleExpert(state.layer, c.dataIndex);
    }
  }),
  entropy: chartCard('entropy-by-layer', 'Router entropy by layer', 240),
  margin: chartCard('margin-by-layer', 'Margin to the near miss by layer', 240),
  surprisal: chartCard('surprisal-vs-entropy', 'Surprisal against routing entropy', 280, (c) => {
    const v = c.value as [number, number, number];
    if (state?.uri && Number.isInteger(v[2])) {
      post({ method: SelectTokenCommand, params: { uri: state.uri, tokenIndex: v[2] } });
    }
  }),
  coact: chartCard('co-activation', 'Co-activation within the layer', 300, (c) => {
    const v = c.value as [number, number];
    if (state?.layer !== null && state?.layer !== undefined) {
      toggleExpert(state.layer, v[1]);
    }
  }),
  transitions: chartCard('transitions', 'Expert transitions between layers', 300, (c) => {
    const v = c.value as [number, number];
    if (pair) {
      toggleExpert(pair[0], v[1]);
    }
  }),
  same: chartCard('same-expert-rate', 'Consecutive tokens on the same expert', 220),
  consistency: chartCard('routing-consistency', 'Routing consistency of repeated tokens', 320),
};
const balance = tableCard('balance-by-layer', 'Balance by layer');
const topTokens = tableCard('expert-top-tokens', "Each expert's top tokens (selected layer)");
const pairA = select('From', (v) => setPair(Number(v), pair?.[1] ?? Number(v)));
const pairB = select('to', (v) => setPair(pair?.[0] ?? Number(v), Number(v)));
cards.transitions!.tools.prepend(pairA.root, pairB.root);
cards.heatmap!.root.classList.add('wide');
grid.append(
  cards.heatmap!.root,
  cards.load!.root,
  balance.root,
  cards.entropy!.root,
  cards.margin!.root,
  cards.surprisal!.root,
  cards.same!.root,
  cards.coact!.root,
  cards.transitions!.root,
  cards.consistency!.root,
  topTokens.root,
);
new ResizeObserver(() => {
  Object.values(cards).forEach((c) => c.resize());
  cfCards.resize();
  compare.resize();
}).observe(grid);

// ---- state -----------------------------------------------------------------------------------

function trace(): RoutingTrace | null {
  return state?.trace ?? null;
}

function moeLayers(): LayerRouting[] {
  return trace()?.layers.filter((l) => l.kind === 'moe' && l.experts) ?? [];
}

function ctx(): Ctx | null {
  const t = trace();
  const summary = summaries.find((s) => s.layer === state?.layer);
  const routing = moeLayers().find((l) => l.layer === state?.layer);
  if (!t || !summary || !routing) {
    return null;
  }
  return { trace: t, summaries, summary, routing, palette, highlight: state?.highlight ?? null };
}

function setState(next: State): void {
  if (next.trace) {
    restoreScores(next.trace);
  }
  const sameDoc = state?.uri === next.uri;
  state = next;
  if (!sameDoc) {
    cf = EMPTY_COUNTERFACTUALS;
  }
  bar.root.hidden = next.trace === null;
  if (!sameDoc && persisted.uri === next.uri && persisted.layer !== null) {
    state.layer = persisted.layer;
  }
  const t = next.trace;
  empty.hidden = t !== null || !compare.root.hidden;
  scroll.hidden = t === null && compare.root.hidden;
  if (!t) {
    summaries = [];
    return;
  }
  summaries = summarizeTrace(t);
  state.layer = effectiveLayer(t, state.layer);
  const layers = moeLayers().map((l) => l.layer);
  if (!pair || !layers.includes(pair[0]) || !layers.includes(pair[1])) {
    pair = layers.length ? [layers[0]!, layers[Math.min(1, layers.length - 1)]!] : null;
  }
  title.textContent = next.label ? `Dashboard: ${next.label}` : 'Dashboard';
  modelInfo.textContent = `${t.model.name} · ${t.model.numExperts} experts, top-${t.model.topK} · ${t.model.gate} · ${t.tokens.length} tokens`;
  modelInfo.title = t.model.gateDescription;
  renderAll();
  persist();
}

function pickLayer(layer: number): void {
  if (state && state.layer !== layer && summaries.some((s) => s.layer === layer)) {
    state.layer = layer;
    renderAll();
    persist();
    post({ method: SelectLayerCommand, params: { layer } });
  }
}

function setPair(a: number, b: number): void {
  pair = [a, b];
  renderTransitions();
  persist();
}

function toggleExpert(layer: number, expert: number): void {
  const same = state?.highlight?.layer === layer && state.highlight.expert === expert;
  setHighlight(same ? null : { layer, expert });
  post({ method: HighlightExpertCommand, params: { layer, expert: same ? null : expert } });
}

function setHighlight(h: ExpertRef | null): void {
  if (!state) {
    return;
  }
  state.highlight = h;
  const c = ctx();
  if (c) {
    show(cards.load!, expertLoad(c));
    renderTopTokens(c);
  }
}

// ---- drawing ---------------------------------------------------------------------------------

function show(card: ChartCard, d: ChartData): void {
  // Heights may have changed with the expert count; ECharts only measures on resize.
  card.resize();
  card.update(d.option, d.rows, d.subtitle);
}

function renderAll(): void {
  const c = ctx();
  if (!c) {
    return;
  }
  palette = expertPalette(c.trace.model.numExperts, state!.colorScheme);
  c.palette = palette;
  const options = moeLayers().map((l) => ({ value: String(l.layer), label: `Layer ${l.layer}` }));
  layerSelect.set(options, String(state!.layer));
  const E = c.trace.model.numExperts;
  // Square-ish matrices: height follows the expert count (and the layer count for the heatmap).
  const matrixHeight = Math.min(560, Math.max(240, E * 22 + 90));
  cards.heatmap!.root.querySelector<HTMLElement>('.chart')!.style.height = `${Math.min(640, Math.max(200, summaries.length * 22 + 100))}px`;
  cards.coact!.root.querySelector<HTMLElement>('.chart')!.style.height = `${matrixHeight}px`;
  cards.transitions!.root.querySelector<HTMLElement>('.chart')!.style.height = `${matrixHeight}px`;
  renderFigures(c);
  renderCounterfactuals();
  pairA.set(options, String(pair?.[0]));
  pairB.set(options, String(pair?.[1]));
  // The first charts are drawn at once; the rest one per task, so the panel shows up quickly and
  // stays responsive on long documents. A newer renderAll drops the older queue.
  const steps: (() => void)[] = [
    () => show(cards.heatmap!, loadHeatmap(c)),
    () => show(cards.load!, expertLoad(c)),
    () => renderBalance(c),
    () => show(cards.entropy!, entropyBox(c)),
    () => show(cards.margin!, marginBox(c)),
    () => show(cards.surprisal!, surprisalScatter(c)),
    () => show(cards.same!, sameExpertChart(c)),
    () => show(cards.coact!, coActivationChart(c)),
    () => renderTransitions(),
    () => show(cards.consistency!, consistencyChart(c)),
    () => renderTopTokens(c),
  ];
  const generation = ++renderGeneration;
  document.body.dataset.complete = 'false';
  steps.splice(0, 3).forEach((f) => f());
  const next = (): void => {
    if (generation !== renderGeneration) {
      return;
    }
    const f = steps.shift();
    if (f) {
      f();
      window.setTimeout(next, 0);
    } else {
      document.body.dataset.complete = 'true';
    }
  };
  window.setTimeout(next, 0);
}

let renderGeneration = 0;

function renderCounterfactuals(): void {
  const t = trace();
  if (!t || !state) {
    return;
  }
  bar.setModel(t.model, state.layer);
  bar.setState(cf);
  cfCards.update(t, state.layer, palette, cf);
}

function renderTransitions(): void {
  const c = ctx();
  const a = moeLayers().find((l) => l.layer === pair?.[0]);
  const b = moeLayers().find((l) => l.layer === pair?.[1]);
  if (c && a && b) {
    show(cards.transitions!, transitionChart(c, a, b));
  }
}

function renderFigures(c: Ctx): void {
  const s = c.summary;
  const items: [string, string, string][] = [
    ['aux loss', fmt(s.auxLoss), 'Switch auxiliary loss E·Σ f_i·P_i (1 = balanced)'],
    ['CV', fmt(s.cv), 'Coefficient of variation of the slot shares (0 = balanced)'],
    ['max/mean', fmt(s.maxOverMean), 'Busiest expert over the mean load (1 = balanced)'],
    ['z-loss', fmt(s.zLoss), 'Router z-loss mean(logsumexp(l)²)'],
    ['same expert', fmt(s.sameExpertRate), 'Share of consecutive tokens with the same top-1 expert'],
    ['mean entropy', fmt(mean(s.entropy.filter(Number.isFinite))), 'Mean router entropy (nats)'],
  ];
  figures.replaceChildren(el('span', 'figures-title', `Layer ${s.layer}`));
  // An imported trace: say once, up front, what it does not carry.
  const missing = missingParts(traceFields(c.trace), ['weights', 'scores', 'sharedWeight', 'ids', 'spans', 'surprisal']);
  if (missing.length) {
    figures.appendChild(el('span', 'figure-note note', `Not in this trace: ${missing.join(', ')} (imported from a source without them); the views that need them say so.`));
  }
  for (const [k, v, tip] of items) {
    const f = el('span', 'figure');
    f.title = tip;
    f.append(el('span', 'figure-value', v), el('span', 'figure-label muted', k));
    figures.appendChild(f);
  }
}

function renderBalance(c: Ctx): void {
  const rows = balanceRows(c);
  const missing = lacking(c, ['routerLogits']);
  balance.setRows(rows, `Switch aux loss E·Σ f_i·P_i (1 = balanced), CV and max/mean of the slot shares, router z-loss, same-expert rate.${missing ? ` Aux loss and z-loss need the ${missing}` : ''}`);
  const table = el('table', 'data');
  const head = el('tr');
  for (const h of ['layer', 'aux loss', 'CV', 'max/mean', 'z-loss', 'same', 'baseline']) {
    head.appendChild(el('th', undefined, h));
  }
  table.appendChild(head);
  for (const r of rows.slice(1)) {
    const tr = el('tr');
    tr.classList.toggle('current', r[0] === c.summary.layer);
    r.slice(0, 7).forEach((v, i) => tr.appendChild(el('td', undefined, i === 0 ? String(v) : fmt(v as number))));
    tr.addEventListener('click', () => pickLayer(r[0] as number));
    table.appendChild(tr);
  }
  balance.body.replaceChildren(table);
}

function renderTopTokens(c: Ctx): void {
  const { rows, top, missing } = topTokensRows(c);
  topTokens.setRows(rows, missing ? `Each expert's top tokens: ${missing}` : `Layer ${c.summary.layer}: the tokens each expert receives most often (any of its k slots). Click an expert to highlight it.`);
  const table = el('table', 'data top-tokens');
  top.forEach((list, e) => {
    const tr = el('tr');
    const chipCell = el('td');
    const chip = el('button', 'expert-chip', `E${e}`);
    chip.type = 'button';
    chip.style.setProperty('--chip', rgba(palette[e] ?? [128, 128, 128], 1));
    chip.addEventListener('click', () => toggleExpert(c.summary.layer, e));
    chipCell.appendChild(chip);
    tr.appendChild(chipCell);
    tr.classList.toggle('current', c.highlight?.layer === c.summary.layer && c.highlight.expert === e);
    const cell = el('td', 'tokens');
    for (const t of list) {
      cell.appendChild(el('code', 'token-text', visibleTokenText(t.text, t.id)));
      cell.appendChild(el('span', 'count muted', `×${t.count}`));
    }
    tr.appendChild(cell);
    table.appendChild(tr);
  });
  topTokens.body.replaceChildren(table);
}

function persist(): void {
  savePersisted({
    webviewId: 'dashboard',
    uri: state?.uri ?? null,
    layer: state?.layer ?? null,
    selectedToken: state?.selectedToken ?? null,
    scrollTop: scroll.scrollTop,
    transitionLayers: pair,
  });
}

new MutationObserver(() => renderAll()).observe(document.body, { attributes: true, attributeFilter: ['class'] });

onHostMessage((m) => {
  switch (m.method) {
    case DidChangeStateNotification:
      setState(m.params.state);
      break;
    case DidChangeLayerNotification:
      if (state && summaries.some((s) => s.layer === m.params.layer)) {
        state.layer = m.params.layer;
        renderAll();
        persist();
      }
      break;
    case DidChangeExpertHighlightNotification:
      setHighlight(m.params.highlight);
      break;
    case DidChangeCompareNotification:
      compare.set(m.params.compare);
      if (m.params.compare) {
        scroll.hidden = false;
        empty.hidden = true;
        scroll.scrollTop = 0;
      }
      break;
    case ExportDidSaveNotification:
      onExportSaved(m.params.id, m.params.saved, m.params.path, m.params.error);
      break;
    case DidChangeCounterfactualNotification:
      if (state && m.params.uri === state.uri) {
        cf = m.params.counterfactual;
        renderCounterfactuals();
      }
      break;
    case DidProgressCounterfactualNotification:
      if (state && m.params.uri === state.uri) {
        bar.setProgress(m.params.fraction, m.params.message);
        cfCards.progress(m.params.fraction, m.params.message);
      }
      break;
    default:
      break;
  }
});

scroll.hidden = true;
bar.root.hidden = true;
post({ method: ReadyCommand, params: { webviewId: 'dashboard' } });
