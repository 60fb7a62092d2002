/**
 * @file The side pane of the routed-token view: one token's full routing in the selected layer
 * (experts, weights as applied, scores, entropy, margin, near miss, shared share, surprisal) and
 * a layer × expert grid plus table over all MoE layers.
 */
import { DIGITS, formatFigure, formatShare, tokenFacts } from '../shared/tokenFacts';
import type { LayerRouting, RoutingTrace } from '../shared/trace';
import { layerHasScores, NOT_IN_TRACE, traceFields } from '../shared/traceFields';
import { el, fmt } from './dom';
import { visibleTokenText } from '../shared/tokenText';
import { rgba, type Rgb } from './palette';

export interface DetailActions {
  onExpert(layer: number, expert: number): void;
  onLayer(layer: number): void;
}

function chip(expert: number, palette: Rgb[], layer: number, actions: DetailActions): HTMLElement {
  const b = el('button', 'expert-chip', `E${expert}`);
  b.type = 'button';
  b.style.setProperty('--chip', rgba(palette[expert] ?? [128, 128, 128], 1));
  b.title = `Highlight expert ${expert} of layer ${layer}`;
  b.addEventListener('click', () => actions.onExpert(layer, expert));
  return b;
}

function row(cells: (string | HTMLElement)[], header = false): HTMLTableRowElement {
  const tr = el('tr');
  for (const c of cells) {
    const td = el(header ? 'th' : 'td');
    if (typeof c === 'string') {
      td.textContent = c;
    } else {
      td.appendChild(c);
    }
    tr.appendChild(td);
  }
  return tr;
}

function dl(pairs: [string, string][]): HTMLElement {
  const d = el('dl', 'facts');
  for (const [k, v] of pairs) {
    d.appendChild(el('dt', undefined, k));
    d.appendChild(el('dd', undefined, v));
  }
  return d;
}

export function renderTokenDetail(
  root: HTMLElement,
  trace: RoutingTrace,
  t: number,
  layer: number,
  palette: Rgb[],
  windowIndex: number,
  actions: DetailActions,
): void {
  root.replaceChildren();
  const tok = trace.tokens[t];
  if (!tok) {
    root.appendChild(el('p', 'muted', 'Click a token to see its routing.'));
    return;
  }
  root.appendChild(el('h2', undefined, `Token #${t}`));
  const text = el('code', 'token-text', visibleTokenText(tok.text, tok.id));
  root.appendChild(text);
  // An imported trace lacks some parts: say which, rather than show a blank or a wrong number.
  const fields = traceFields(trace);
  const facts: [string, string][] = [
    ['id', tok.id === null ? NOT_IN_TRACE : String(tok.id)],
    ['span', tok.start === null ? (fields.spans ? 'not in the text' : NOT_IN_TRACE) : `${tok.start}–${tok.end}`],
    ['surprisal', trace.surprisal[t] === null ? (fields.surprisal ? '– (no next token)' : NOT_IN_TRACE) : `${fmt(trace.surprisal[t])} nats`],
  ];
  if (windowIndex >= 0) {
    facts.push(['window', String(windowIndex + 1)]);
  }
  root.appendChild(dl(facts));

  const l = trace.layers.find((x) => x.layer === layer);
  const f = l ? tokenFacts(trace.model, l, t) : null;
  if (f) {
    root.appendChild(el('h3', undefined, `Layer ${layer}`));
    const table = el('table', 'routing-table');
    table.appendChild(row(['expert', 'weight (applied)', 'score', 'score rank'], true));
    const hasWeights = l!.weights !== null;
    const hasScores = layerHasScores(l!);
    f.experts.forEach((e, j) => {
      table.appendChild(
        row([
          chip(e, palette, layer, actions),
          hasWeights ? formatFigure(f.weights[j], DIGITS.weight) : NOT_IN_TRACE,
          hasScores ? formatFigure(f.scores[j], DIGITS.score) : NOT_IN_TRACE,
          hasScores ? String(f.scoreRanks[j] ?? '–') : '–',
        ]),
      );
    });
    root.appendChild(table);
    const pairs: [string, string][] = [
      ['Σ weights', hasWeights ? formatFigure(f.weightSum, DIGITS.weight) : NOT_IN_TRACE],
      ['entropy', hasScores ? `${formatFigure(f.entropy, DIGITS.entropy)} nats (${formatShare(f.normalizedEntropy)} of max)` : NOT_IN_TRACE],
      [`margin (by ${f.selectionBy})`, hasScores ? formatFigure(f.margin, DIGITS.margin) : NOT_IN_TRACE],
      ['near miss', f.nearMiss === null ? (hasScores ? '–' : NOT_IN_TRACE) : `E${f.nearMiss}`],
    ];
    if (f.sharedWeight !== null) {
      pairs.push(['shared weight', formatFigure(f.sharedWeight, DIGITS.weight)], ['shared share', hasWeights ? formatShare(f.sharedShare) : NOT_IN_TRACE]);
    } else if (trace.model.hasSharedExpert) {
      pairs.push(['shared weight', NOT_IN_TRACE]);
    }
    root.appendChild(dl(pairs));
    if (f.chosenAreTopScores === false) {
      root.appendChild(el('p', 'note', 'Chosen experts differ from the top-k by score (a selection-only bias or group limit).'));
    }
  }

  // Layers without weights (an imported npy trace) show their experts in equal shares, and say so.
  const moe = trace.layers.filter((x) => x.kind === 'moe' && x.experts);
  if (moe.some((x) => !x.weights)) {
    root.appendChild(el('p', 'note', `Gate weights: ${NOT_IN_TRACE} (imported from a source without them); experts below are drawn in equal shares.`));
  }
  if (moe.length) {
    root.appendChild(el('h3', undefined, 'All layers'));
    root.appendChild(layerGrid(trace, moe, t, layer, palette, actions));
    const table = el('table', 'routing-table all-layers');
    table.appendChild(row(['layer', 'experts (weight)', 'entropy', 'margin'], true));
    for (const x of moe) {
      const xf = tokenFacts(trace.model, x, t);
      const cell = el('span');
      x.experts![t]!.forEach((e, j) => {
        cell.appendChild(chip(e, palette, x.layer, actions));
        if (x.weights) {
          cell.appendChild(el('span', 'w', fmt(x.weights[t]![j], 2)));
        }
      });
      const scored = layerHasScores(x);
      const tr = row([String(x.layer), cell, scored ? formatFigure(xf?.entropy, DIGITS.entropy) : NOT_IN_TRACE, scored ? formatFigure(xf?.margin, DIGITS.margin) : NOT_IN_TRACE]);
      tr.classList.toggle('current', x.layer === layer);
      tr.addEventListener('click', (e) => {
        if (!(e.target as HTMLElement).closest('button')) {
          actions.onLayer(x.layer);
        }
      });
      table.appendChild(tr);
    }
    root.appendChild(table);
  }
}

/** Layer × expert grid for one token: a cell per (layer, expert), filled by the applied weight's share. */
function layerGrid(trace: RoutingTrace, moe: LayerRouting[], t: number, layer: number, palette: Rgb[], actions: DetailActions): HTMLElement {
  const E = trace.model.numExperts;
  const cell = Math.max(3, Math.min(14, Math.floor(260 / E)));
  const rowH = Math.max(3, Math.min(12, Math.floor(200 / moe.length)));
  const canvas = el('canvas', 'layer-grid');
  const dpr = window.devicePixelRatio || 1;
  canvas.width = E * cell * dpr;
  canvas.height = moe.length * rowH * dpr;
  canvas.style.width = `${E * cell}px`;
  canvas.style.height = `${moe.length * rowH}px`;
  canvas.title = 'Rows: MoE layers (first at top). Columns: experts. Fill: share of the applied gate weight. Click a row to select that layer.';
  const g = canvas.getContext('2d');
  if (g) {
    g.scale(dpr, dpr);
    moe.forEach((l, r) => {
      const experts = l.experts![t]!;
      const weights = l.weights?.[t] ?? experts.map(() => 1);
      const total = weights.reduce((a, b) => a + Math.max(0, b), 0) || 1;
      g.fillStyle = 'rgba(128,128,128,0.12)';
      g.fillRect(0, r * rowH, E * cell, rowH - 1);
      experts.forEach((e, j) => {
        g.fillStyle = rgba(palette[e] ?? [128, 128, 128], 0.25 + 0.75 * (Math.max(0, weights[j]!) / total));
        g.fillRect(e * cell, r * rowH, cell - 1, rowH - 1);
      });
      if (l.layer === layer) {
        g.strokeStyle = 'rgba(128,128,128,0.9)';
        g.strokeRect(0.5, r * rowH + 0.5, E * cell - 1, rowH - 1);
      }
    });
  }
  canvas.addEventListener('click', (e) => {
    const r = Math.floor(e.offsetY / rowH);
    const l = moe[r];
    if (l) {
      actions.onLayer(l.layer);
    }
  });
  return canvas;
}

/** What every reading of the pane depends on: the model, what its gate weight means, how it was run. */
export function renderRoutingNotes(root: HTMLElement, trace: RoutingTrace): void {
  const box = el('section', 'notes');
  box.appendChild(el('h3', undefined, 'Routing notes'));
  box.appendChild(el('p', undefined, trace.model.gateDescription));
  const m = trace.model;
  const pairs: [string, string][] = [
    ['model', `${m.name} (${m.modelType})`],
    ['experts', `${m.numExperts} routed, top-${m.topK}${m.hasSharedExpert ? ', plus a shared expert' : ''}`],
    ['gate', m.gate],
    ['MoE layers', `${m.moeLayers.length} of ${m.numLayers}`],
    ['tokens', String(trace.tokens.length)],
    ['backend', trace.backend],
  ];
  if (trace.windows && trace.windows.length > 1) {
    pairs.push(['windows', `${trace.windows.length} (overlap ${trace.windows[1]!.overlap} tokens)`]);
  }
  box.appendChild(dl(pairs));
  root.appendChild(box);
}
