/**
 * @file The dashboard's Compare view (MoE Lens: Compare With…): two documents, or one document on
 * two models. A bar chart of the Jensen–Shannon divergence of the expert loads per MoE layer (bits),
 * and a table of the paired tokens whose top-k expert set changed, layer by layer; clicking a token
 * asks the host to reveal it in that side's editor. The host computes the comparison
 * (src/shared/traceCompare.ts); this file only draws it.
 */
import type { ChangedToken, TraceComparison } from '../shared/traceCompare';
import { visibleTokenText } from '../shared/tokenText';
import { CompareRevealCommand } from '../shared/webviewProtocol';
import { button } from './controls';
import { chartCard, tableCard, type Rows } from './charts';
import { el, escapeHtml, fmt } from './dom';
import { post } from './vscodeApi';

/** Rows drawn in the table (all of them go to the CSV). */
const SHOWN_ROWS = 500;

export interface CompareView {
  root: HTMLElement;
  set(c: TraceComparison | null): void;
  resize(): void;
}

function sideTitle(s: TraceComparison['a']): string {
  return `${s.label} · ${s.model} · ${s.tokens} tokens`;
}

function tokenButton(side: 'a' | 'b', index: number, label: string): HTMLElement {
  const b = el('button', 'cmp-token', label);
  b.type = 'button';
  b.dataset.side = side;
  b.dataset.token = String(index);
  b.title = `Reveal token #${index} in ${side === 'a' ? 'A' : 'B'}'s editor`;
  b.addEventListener('click', () => post({ method: CompareRevealCommand, params: { side, tokenIndex: index } }));
  return b;
}

/** "L3 −E1 +E5" per changed layer, as DOM. */
function layerCell(c: ChangedToken): HTMLElement {
  const cell = el('td', 'cmp-layers');
  for (const l of c.layers) {
    const item = el('span', 'cmp-layer');
    item.append(el('span', 'cmp-l', `L${l.layer}`));
    for (const e of l.onlyA) {
      item.append(el('span', 'cmp-only-a', `−E${e}`));
    }
    for (const e of l.onlyB) {
      item.append(el('span', 'cmp-only-b', `+E${e}`));
    }
    cell.append(item);
  }
  return cell;
}

/** The view's parts, made on the first comparison: until then the dashboard holds no trace of it. */
function build(root: HTMLElement) {
  const head = el('div', 'cmp-head');
  const title = el('h2', undefined, 'Compare');
  const close = button('Close', 'Hide the comparison', () => (root.hidden = true));
  head.append(title, close);
  const sides = el('div', 'cmp-sides');
  const note = el('p', 'cmp-note muted');
  const error = el('p', 'cmp-error note');
  const jsd = chartCard('compare-jsd', 'JSD of the expert loads per layer (bits)', 220);
  const changed = tableCard('compare-changed', 'Tokens whose top-k experts changed (by layer)');
  const body = el('div', 'cmp-body');
  body.append(jsd.root, changed.root);
  root.append(head, sides, note, error, body);
  return { sides, note, error, jsd, changed, body };
}

export function createCompareView(): CompareView {
  const root = el('section', 'compare');
  root.hidden = true;
  let parts: ReturnType<typeof build> | null = null;

  function set(c: TraceComparison | null): void {
    root.hidden = c === null;
    if (!c) {
      return;
    }
    parts ??= build(root);
    const { sides, note, error, jsd, changed, body } = parts;
    sides.replaceChildren(el('div', 'cmp-side', `A: ${sideTitle(c.a)}`), el('div', 'cmp-side', `B: ${sideTitle(c.b)}`));
    const pairedNote =
      c.error === null
        ? `${c.paired} tokens paired by their spans${c.paired < Math.max(c.a.tokens, c.b.tokens) ? ` (of ${c.a.tokens} in A and ${c.b.tokens} in B: the rest differ in text or tokenization)` : ''}.`
        : '';
    note.textContent = [c.note, pairedNote].filter(Boolean).join(' ');
    error.textContent = c.error === null ? '' : `Cannot compare: ${c.error}`;
    error.hidden = c.error === null;
    body.hidden = c.error !== null;
    if (c.error !== null) {
      return;
    }
    const rowsJsd: Rows = [['layer', 'jsd_bits', 'changed_tokens'], ...c.layers.map((l) => [l.layer, l.jsd, l.changedTokens])];
    jsd.resize();
    jsd.update(
      {
        grid: { left: 56, right: 56, top: 24, bottom: 36 },
        tooltip: {
          trigger: 'axis',
          formatter: (ps: { dataIndex: number }[]) => {
            const l = c.layers[ps[0]?.dataIndex ?? 0];
            return l ? `Layer ${l.layer}<br>JSD ${escapeHtml(fmt(l.jsd, 4))} bits<br>${l.changedTokens} of ${c.paired} paired tokens changed experts` : '';
          },
        },
        xAxis: { type: 'category', name: 'layer', nameLocation: 'middle', nameGap: 24, data: c.layers.map((l) => String(l.layer)) },
        yAxis: [
          { type: 'value', name: 'JSD (bits)', min: 0 },
          { type: 'value', name: 'changed', min: 0, splitLine: { show: false } },
        ],
        series: [
          { type: 'bar', name: 'JSD', data: c.layers.map((l) => l.jsd) },
          { type: 'line', name: 'changed tokens', yAxisIndex: 1, data: c.layers.map((l) => l.changedTokens) },
        ],
      },
      rowsJsd,
      'Jensen–Shannon divergence of the two expert-load distributions (0 = same loads, 1 = disjoint); line: paired tokens whose experts changed.',
    );
    const rows: Rows = [['token_a', 'token_b', 'text', 'layer', 'only_a', 'only_b']];
    for (const t of c.changed) {
      for (const l of t.layers) {
        rows.push([t.a, t.b, t.text ?? '', l.layer, l.onlyA.join(' '), l.onlyB.join(' ')]);
      }
    }
    const more = c.changed.length - SHOWN_ROWS + c.moreChanged;
    changed.setRows(
      rows,
      c.changed.length === 0
        ? 'No paired token changed experts in any layer.'
        : `${c.changed.length + c.moreChanged} tokens changed experts in some layer. −E: only A chose it, +E: only B. Click a token to reveal it in its editor.${more > 0 ? ` The first ${Math.min(SHOWN_ROWS, c.changed.length)} are listed.` : ''}`,
    );
    const table = el('table', 'data cmp-table');
    const header = el('tr');
    for (const h of ['A', 'B', 'token', 'changed layers']) {
      header.append(el('th', undefined, h));
    }
    table.append(header);
    for (const t of c.changed.slice(0, SHOWN_ROWS)) {
      const tr = el('tr');
      const ta = el('td');
      ta.append(tokenButton('a', t.a, `#${t.a}`));
      const tb = el('td');
      tb.append(tokenButton('b', t.b, `#${t.b}`));
      const text = el('td');
      text.append(el('code', 'token-text', visibleTokenText(t.text, t.id)));
      tr.append(ta, tb, text, layerCell(t));
      table.append(tr);
    }
    changed.body.replaceChildren(table);
  }

  return { root, set, resize: () => parts?.jsd.resize() };
}
