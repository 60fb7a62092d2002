/**
 * @file Browser side of the "MoE Lens: Routing" panel: the document as routed tokens, a legend of
 * experts with their load, a layer picker, the all-layers strip, and the selected token's routing.
 * Everything it shows comes from host messages (validated); everything the user does is posted back.
 */
import { EMPTY_COUNTERFACTUALS, type CounterfactualState } from '../shared/counterfactualView';
import { effectiveLayer } from '../shared/effectiveLayer';
import { tokenShare } from '../shared/routingStats';
import type { RoutingTrace } from '../shared/trace';
import { missingParts, traceFields } from '../shared/traceFields';
import {
  CancelCounterfactualCommand,
  DidChangeCounterfactualNotification,
  DidProgressCounterfactualNotification,
  RunCounterfactualCommand,
  DidChangeExpertHighlightNotification,
  DidChangeLayerNotification,
  DidChangeStateNotification,
  DidChangeTokenSelectionNotification,
  HighlightExpertCommand,
  ReadyCommand,
  SelectLayerCommand,
  SelectTokenCommand,
  type ExpertRef,
  type State,
} from '../shared/webviewProtocol';
import { checkbox, select } from './controls';
import { counterfactualBar } from './counterfactualBar';
import { renderCounterfactualDetail } from './counterfactualDetail';
import { effectCounts, effectLook } from './effectLook';
import { klLegend } from './klScale';
import { el, fmt, pct } from './dom';
import { visibleTokenText } from '../shared/tokenText';
import { cssVar, expertPalette, rgba, themeKind, type Rgb } from './palette';
import { renderRoutingNotes, renderTokenDetail } from './tokenDetail';
import { buildLayout, type Layout } from './tokenLayout';
import { tokenLook } from './routingLook';
import { TokenView } from './tokenView';
import { loadPersisted, onHostMessage, post, savePersisted } from './vscodeApi';

const persisted = loadPersisted('routing');
let state: State | null = null;
let layout: Layout | null = null;
let palette: Rgb[] = [];
let withStrip = false;
/** The document's counterfactuals, as the host last sent them. */
let cf: CounterfactualState = EMPTY_COUNTERFACTUALS;

// ---- skeleton --------------------------------------------------------------------------------

const app = document.getElementById('app') ?? document.body;
const header = el('header', 'toolbar');
const title = el('div', 'title', 'MoE Lens: Routing');
const modelInfo = el('div', 'model muted');
const layerSelect = select('Layer', (v) => pickLayer(Number(v)));
const stripBox = checkbox('All layers strip', false, (on) => {
  withStrip = on;
  restyle();
});
header.append(title, modelInfo, layerSelect.root, stripBox);
const bar = counterfactualBar(
  (choice) => state?.uri && post({ method: RunCounterfactualCommand, params: { uri: state.uri, choice } }),
  () => state?.uri && post({ method: CancelCounterfactualCommand, params: { uri: state.uri } }),
);
const cfLegend = el('div', 'legend cf-legend');
cfLegend.hidden = true;
const legend = el('div', 'legend');
legend.setAttribute('role', 'list');
const windowsBar = el('div', 'windows muted');
const main = el('div', 'split');
const scroller = el('div', 'tv-scroll');
scroller.setAttribute('role', 'document');
const detail = el('aside', 'detail');
main.append(scroller, detail);
const empty = el('p', 'empty muted', 'No analysis yet. Run "MoE Lens: Analyze Document" on a file.');
app.append(header, bar.root, cfLegend, legend, windowsBar, main, empty);

const view = new TokenView(scroller, (t) => selectToken(t, true), describe);

// ---- state changes ---------------------------------------------------------------------------

function trace(): RoutingTrace | null {
  return state?.trace ?? null;
}

function lineHeight(): number {
  const size = parseFloat(cssVar('--vscode-editor-font-size')) || 13;
  return Math.round(size * 1.5);
}

function setState(next: State): void {
  const sameDoc = state?.uri === next.uri;
  state = next;
  if (!sameDoc) {
    cf = EMPTY_COUNTERFACTUALS;
  }
  // A reload restores the user's layer and selection when the same document comes back.
  if (!sameDoc && persisted.uri === next.uri && next.trace) {
    state.layer = persisted.layer ?? state.layer;
    state.selectedToken = persisted.selectedToken ?? state.selectedToken;
  }
  const t = next.trace;
  empty.hidden = t !== null;
  main.hidden = t === null;
  if (!t) {
    layout = null;
    legend.replaceChildren();
    modelInfo.textContent = '';
    detail.replaceChildren();
    return;
  }
  state.layer = effectiveLayer(t, state.layer);
  title.textContent = next.label ?? 'MoE Lens: Routing';
  modelInfo.textContent = `${t.model.name} · ${t.model.numExperts} experts, top-${t.model.topK} · ${t.model.gate} · ${t.tokens.length} tokens`;
  modelInfo.title = t.model.gateDescription;
  palette = expertPalette(t.model.numExperts, next.colorScheme);
  bar.setModel(t.model, state.layer);
  bar.setState(cf);
  layout = buildLayout(next.text, t.tokens, t.windows);
  windowsBar.hidden = !(t.windows && t.windows.length > 1);
  windowsBar.textContent = t.windows && t.windows.length > 1 ? `Analysed in ${t.windows.length} windows; markers show where each begins.` : '';
  layerSelect.set(
    t.layers.filter((l) => l.kind === 'moe').map((l) => ({ value: String(l.layer), label: `Layer ${l.layer}` })),
    String(state.layer ?? ''),
  );
  view.setData(layout, currentLook(), lineHeight());
  if (sameDoc || persisted.uri === next.uri) {
    view.scrollTo(persisted.scrollTop);
  } else {
    view.scrollTo(0);
  }
  renderLegend();
  renderCfLegend();
  applyHighlight();
  view.setSelected(state.selectedToken, true);
  renderDetail();
  persist();
}

/** The active counterfactual if it fits the trace shown (the host drops it on re-analysis). */
function activeOverlay(): CounterfactualState['active'] {
  const a = cf.active;
  return a && a.kl.length === trace()?.tokens.length ? a : null;
}

function currentLook(): ReturnType<typeof tokenLook> {
  const a = activeOverlay();
  const look = tokenLook(trace()!, state!.layer ?? -1, palette, withStrip, themeKind());
  return a ? effectLook(a, state!.layer ?? -1, look.stripHeight) : look;
}

function setCounterfactual(next: CounterfactualState): void {
  cf = next;
  bar.setState(next);
  restyle(); // tokens, legends and the side pane
}

function renderCfLegend(): void {
  const a = activeOverlay();
  cfLegend.hidden = a === null;
  cfLegend.replaceChildren();
  if (!a) {
    return;
  }
  cfLegend.appendChild(el('span', 'legend-note muted', `Effect of ${a.mode} on each token's next-token distribution, KL(model ‖ counterfactual) in nats:`));
  for (const step of klLegend()) {
    const item = el('span', 'legend-item cf-step');
    item.style.setProperty('--chip', step.color);
    item.append(el('span', 'swatch'), el('span', undefined, step.label));
    cfLegend.appendChild(item);
  }
  const counts = effectCounts(a, state?.layer ?? -1);
  const none = el('span', 'legend-item');
  none.append(el('span', 'tok cf-none', 'tok'), el('span', undefined, `served by no expert in layer ${state?.layer}: ${counts.none}`));
  cfLegend.appendChild(none);
  if (a.layers.some((l) => l.dropped)) {
    const dropped = el('span', 'legend-item');
    dropped.append(el('span', 'tok cf-dropped', 'tok'), el('span', undefined, `dropped assignments in layer ${state?.layer}: ${counts.dropped}`));
    cfLegend.appendChild(dropped);
  }
}

function restyle(): void {
  if (!trace()) {
    return;
  }
  palette = expertPalette(trace()!.model.numExperts, state!.colorScheme);
  view.setLook(currentLook());
  renderLegend();
  renderCfLegend();
  renderDetail();
}

function setLayer(layer: number): void {
  if (!state || !trace()?.layers.some((l) => l.layer === layer && l.kind === 'moe')) {
    return;
  }
  state.layer = layer;
  layerSelect.set(
    trace()!.layers.filter((l) => l.kind === 'moe').map((l) => ({ value: String(l.layer), label: `Layer ${l.layer}` })),
    String(layer),
  );
  restyle();
  persist();
}

function pickLayer(layer: number): void {
  if (state?.layer !== layer) {
    setLayer(layer);
    post({ method: SelectLayerCommand, params: { layer } });
  }
}

function selectToken(t: number, fromUser: boolean): void {
  if (!state || !trace() || t < 0 || t >= trace()!.tokens.length) {
    return;
  }
  state.selectedToken = t;
  view.setSelected(t, !fromUser);
  renderDetail();
  persist();
  if (fromUser && state.uri) {
    post({ method: SelectTokenCommand, params: { uri: state.uri, tokenIndex: t } });
  }
}

function setHighlight(h: ExpertRef | null): void {
  if (!state) {
    return;
  }
  state.highlight = h;
  applyHighlight();
  renderLegend();
}

function toggleExpert(layer: number, expert: number): void {
  const same = state?.highlight?.layer === layer && state.highlight.expert === expert;
  setHighlight(same ? null : { layer, expert });
  post({ method: HighlightExpertCommand, params: { layer, expert: same ? null : expert } });
}

function applyHighlight(): void {
  const t = trace();
  const h = state?.highlight;
  const l = h && t?.layers.find((x) => x.layer === h.layer);
  if (!t || !h || !l?.experts) {
    view.setHighlight(null);
    return;
  }
  const mask = new Uint8Array(t.tokens.length);
  l.experts.forEach((row, i) => {
    mask[i] = row.includes(h.expert) ? 1 : 0;
  });
  view.setHighlight(mask);
}

// ---- drawing ---------------------------------------------------------------------------------

function renderLegend(): void {
  const t = trace();
  const l = t?.layers.find((x) => x.layer === state?.layer);
  legend.replaceChildren();
  if (!t || !l?.experts) {
    return;
  }
  const share = tokenShare(l.experts, t.model.numExperts);
  const uniform = t.model.topK / t.model.numExperts;
  legend.appendChild(el('span', 'legend-note muted', `Layer ${l.layer} load (share of tokens; uniform ${pct(uniform)}):`));
  // An imported trace: say once what it lacks (the token detail says it per figure).
  const missing = missingParts(traceFields(t), ['weights', 'scores', 'sharedWeight', 'ids', 'spans', 'surprisal']);
  if (missing.length) {
    legend.appendChild(el('span', 'legend-missing note', `Not in this trace: ${missing.join(', ')}.${l.weights ? '' : ' Tokens show their experts in equal shares.'}`));
  }
  share.forEach((s, e) => {
    const b = el('button', 'legend-item');
    b.type = 'button';
    b.setAttribute('role', 'listitem');
    b.dataset.expert = String(e);
    b.style.setProperty('--chip', rgba(palette[e] ?? [128, 128, 128], 1));
    b.append(el('span', 'swatch'), el('span', undefined, `E${e}`), el('span', 'load', pct(s)));
    b.title = `Expert ${e}: ${pct(s)} of tokens (${fmt(s / uniform, 2)}× uniform). Click to highlight its tokens.`;
    if (state?.highlight?.layer === l.layer && state.highlight.expert === e) {
      b.classList.add('active');
    }
    b.addEventListener('click', () => toggleExpert(l.layer, e));
    legend.appendChild(b);
  });
}

function renderDetail(): void {
  const t = trace();
  if (!t || !state || state.selectedToken === null) {
    detail.replaceChildren(el('p', 'muted', 'Click a token to see its routing in every layer.'));
  } else {
    renderTokenDetail(detail, t, state.selectedToken, state.layer ?? -1, palette, layout?.tokenWindow[state.selectedToken] ?? -1, {
      onExpert: (layer, expert) => toggleExpert(layer, expert),
      onLayer: (layer) => pickLayer(layer),
    });
    const a = activeOverlay();
    if (a) {
      renderCounterfactualDetail(detail, t, a, state.selectedToken);
    }
  }
  if (t) {
    renderRoutingNotes(detail, t);
  }
}

function describe(i: number): string {
  const t = trace();
  const tok = t?.tokens[i];
  const l = t?.layers.find((x) => x.layer === state?.layer);
  if (!t || !tok) {
    return '';
  }
  const route = l?.experts?.[i]?.map((e, j) => `E${e} ${fmt(l.weights?.[i]?.[j], 2)}`).join(', ') ?? '';
  const a = activeOverlay();
  const served = a?.layers.find((x) => x.layer === state?.layer)?.experts[i];
  const effect = a ? `\n${a.mode}: KL ${fmt(a.kl[i], 4)} nats, Δsurprisal ${fmt(a.surprisalDelta[i], 3)} nats, served by ${served ? (served.length ? served.map((e) => `E${e}`).join(', ') : 'none') : '–'}` : '';
  return `#${i} ${visibleTokenText(tok.text, tok.id)}  →  ${route}${effect}`;
}

let persistTimer = 0;
function persist(): void {
  // Scrolling fires often; the saved state only needs to be right when the panel goes away.
  window.clearTimeout(persistTimer);
  persistTimer = window.setTimeout(() => {
    savePersisted({
      webviewId: 'routing',
      uri: state?.uri ?? null,
      layer: state?.layer ?? null,
      selectedToken: state?.selectedToken ?? null,
      scrollTop: scroller.scrollTop,
      transitionLayers: null,
    });
    persisted.uri = state?.uri ?? null;
    persisted.scrollTop = scroller.scrollTop;
  }, 200);
}
scroller.addEventListener('scroll', persist, { passive: true });

// Theme switches change the body class: recolour with the new theme's variables.
new MutationObserver(() => restyle()).observe(document.body, { attributes: true, attributeFilter: ['class'] });

onHostMessage((m) => {
  switch (m.method) {
    case DidChangeStateNotification:
      setState(m.params.state);
      break;
    case DidChangeLayerNotification:
      setLayer(m.params.layer);
      break;
    case DidChangeTokenSelectionNotification:
      if (state && m.params.uri === state.uri && m.params.tokenIndex !== null) {
        selectToken(m.params.tokenIndex, false);
      }
      break;
    case DidChangeExpertHighlightNotification:
      setHighlight(m.params.highlight);
      break;
    case DidChangeCounterfactualNotification:
      if (state && m.params.uri === state.uri) {
        setCounterfactual(m.params.counterfactual);
      }
      break;
    case DidProgressCounterfactualNotification:
      if (state && m.params.uri === state.uri) {
        bar.setProgress(m.params.fraction, m.params.message);
      }
      break;
    default:
      break;
  }
});

main.hidden = true;
post({ method: ReadyCommand, params: { webviewId: 'routing' } });
