/**
 * @file The selected token under the active counterfactual, in the token view's side pane: its KL
 * and Δsurprisal, and per MoE layer the experts the model chose beside the ones that served it
 * in the counterfactual (and any it lost to a full expert).
 */
import type { CounterfactualOverlay } from '../shared/counterfactualView';
import type { RoutingTrace } from '../shared/trace';
import { el, fmt } from './dom';

const list = (experts: readonly number[] | null | undefined): string => (experts ? (experts.length ? experts.map((e) => `E${e}`).join(' ') : 'none') : '–');

export function renderCounterfactualDetail(root: HTMLElement, trace: RoutingTrace, cf: CounterfactualOverlay, t: number): void {
  const box = el('section', 'cf-detail');
  box.appendChild(el('h3', undefined, `Under ${cf.mode}`));
  const d = cf.surprisalDelta[t];
  box.appendChild(el('p', 'muted', `KL ${fmt(cf.kl[t], 4)} nats · Δsurprisal ${d === null || d === undefined ? '– (last token)' : `${d >= 0 ? '+' : ''}${fmt(d, 3)} nats`}`));
  const table = el('table', 'routing-table cf-served');
  const head = el('tr');
  const withDropped = cf.layers.some((l) => l.dropped);
  for (const h of ['layer', 'model', 'served', ...(withDropped ? ['dropped'] : [])]) {
    head.appendChild(el('th', undefined, h));
  }
  table.appendChild(head);
  for (const l of cf.layers) {
    const own = trace.layers.find((x) => x.layer === l.layer)?.experts?.[t];
    const served = l.experts[t];
    const tr = el('tr');
    tr.dataset.layer = String(l.layer);
    tr.append(el('td', undefined, `L${l.layer}`), el('td', undefined, list(own)), el('td', served?.length === 0 ? 'cf-none-cell' : undefined, list(served)));
    if (withDropped) {
      tr.appendChild(el('td', undefined, list(l.dropped?.[t])));
    }
    table.appendChild(tr);
  }
  box.appendChild(table);
  root.appendChild(box);
}
