/**
 * @file The dashboard's counterfactual section: the active pass's effect per token, the "k sweep"
 * chart (one pass per k, run on request) and the "which experts matter" table (one pass per expert
 * of a chosen layer, sortable). Runs go to the host; progress and results come back from it.
 */
import type { CounterfactualChoice, CounterfactualState } from '../shared/counterfactualView';
import type { RoutingTrace } from '../shared/trace';
import { chartCard, tableCard } from './charts';
import { button, select } from './controls';
import { effectChart, expertCsv, expertRows, kSweepChart, overlaySummary, type ExpertSortKey } from './counterfactualCharts';
import { effectCounts } from './effectLook';
import { el, fmt } from './dom';
import { rgba, type Rgb } from './palette';

export interface CounterfactualCards {
  root: HTMLElement;
  update(trace: RoutingTrace, layer: number | null, palette: Rgb[], cf: CounterfactualState): void;
  progress(fraction: number, message: string): void;
  resize(): void;
}

export interface CardActions {
  run(choice: CounterfactualChoice): void;
  cancel(): void;
  expert(layer: number, expert: number): void;
}

const COLUMNS: { key: ExpertSortKey; label: string }[] = [
  { key: 'expert', label: 'expert' },
  { key: 'meanKl', label: 'mean KL' },
  { key: 'maxKl', label: 'max KL' },
  { key: 'meanSurprisalDelta', label: 'mean Δsurprisal' },
];

export function counterfactualCards(actions: CardActions): CounterfactualCards {
  const root = el('div', 'grid cf-grid');
  const effect = chartCard('counterfactual-effect', 'Counterfactual effect per token', 240);
  effect.root.classList.add('wide');
  const figures = el('div', 'figures cf-figures');
  effect.root.insertBefore(figures, effect.root.querySelector('.chart'));
  const sweep = chartCard('k-sweep', 'k sweep', 260);
  const sweepBox = sweep.root.querySelector<HTMLElement>('.chart')!;
  const sweepStatus = el('p', 'card-sub muted cf-card-status');
  sweep.root.insertBefore(sweepStatus, sweep.root.querySelector('.chart'));
  const runSweep = button('Run k sweep', 'One pass per k = 1…E in the engine (cancellable)', () => actions.run({ kind: 'sweep-k' }), false);
  runSweep.dataset.action = 'sweep-k';
  sweep.tools.prepend(runSweep);
  const experts = tableCard('experts-matter', 'Which experts matter');
  const expertsStatus = el('p', 'card-sub muted cf-card-status');
  experts.body.before(expertsStatus);
  const layerPick = select('Layer', () => undefined);
  const runAblate = button('Ablate each', 'One pass per expert of this layer, each removed in turn (cancellable)', () => actions.run({ kind: 'ablate-each', layer: Number(layerPick.value) }), false);
  runAblate.dataset.action = 'ablate-each';
  const cancels = [sweep, experts].map((c) => {
    const b = button('Cancel', 'Stop the running passes (partial results are dropped)', () => actions.cancel());
    b.dataset.action = 'cancel';
    b.hidden = true;
    c.tools.prepend(b);
    return b;
  });
  experts.tools.prepend(layerPick.root, runAblate);
  root.append(effect.root, sweep.root, experts.root);

  let sort: { key: ExpertSortKey; descending: boolean } = { key: 'meanKl', descending: true };
  let last: { trace: RoutingTrace; layer: number | null; palette: Rgb[]; cf: CounterfactualState } | null = null;

  function renderExperts(): void {
    if (!last) {
      return;
    }
    const { cf, palette, trace } = last;
    const s = cf.ablateEach;
    experts.root.dataset.layer = String(s?.layer ?? '');
    if (!s) {
      experts.setRows([], `Pick a layer and run: each of its ${trace.model.numExperts} experts is removed in turn (the next-best expert fills its slot) and the effect on the next-token distributions is measured.`);
      experts.body.replaceChildren();
      return;
    }
    experts.setRows(expertCsv(s), `Layer ${s.layer}: the effect of removing each expert, over the document's tokens${s.windows > 1 ? ` (${s.windows} windows)` : ''}. Click a column to sort; click an expert to highlight it.`);
    const table = el('table', 'data cf-experts');
    const head = el('tr');
    for (const c of COLUMNS) {
      const th = el('th');
      th.dataset.sort = c.key;
      th.setAttribute('aria-sort', sort.key === c.key ? (sort.descending ? 'descending' : 'ascending') : 'none');
      // A button, so the keyboard sorts too.
      const b = el('button', 'sort', c.label + (sort.key === c.key ? (sort.descending ? ' ▼' : ' ▲') : ''));
      b.type = 'button';
      b.title = `Sort by ${c.label}`;
      b.addEventListener('click', () => {
        sort = { key: c.key, descending: sort.key === c.key ? !sort.descending : c.key !== 'expert' };
        renderExperts();
      });
      th.appendChild(b);
      head.appendChild(th);
    }
    table.appendChild(head);
    for (const r of expertRows(s, sort.key, sort.descending)) {
      const tr = el('tr');
      tr.dataset.expert = String(r.expert);
      const chip = el('button', 'expert-chip', `E${r.expert}`);
      chip.type = 'button';
      chip.style.setProperty('--chip', rgba(palette[r.expert] ?? [128, 128, 128], 1));
      chip.addEventListener('click', () => actions.expert(s.layer!, r.expert));
      const first = el('td');
      first.appendChild(chip);
      tr.append(first, el('td', undefined, fmt(r.meanKl, 4)), el('td', undefined, fmt(r.maxKl, 4)), el('td', undefined, fmt(r.meanSurprisalDelta, 4)));
      table.appendChild(tr);
    }
    experts.body.replaceChildren(table);
  }

  return {
    root,
    update(trace, layer, palette, cf) {
      last = { trace, layer, palette, cf };
      const layers = trace.model.moeLayers.filter((l) => trace.layers.some((x) => x.layer === l && x.kind === 'moe'));
      layerPick.set(layers.map((l) => ({ value: String(l), label: `L${l}` })), String(cf.ablateEach?.layer ?? layer ?? layers[0] ?? ''));
      const running = cf.running;
      root.dataset.running = running ? running.choice.kind : '';
      cancels.forEach((b) => (b.hidden = running === null));
      runSweep.toggleAttribute('disabled', running !== null);
      runAblate.toggleAttribute('disabled', running !== null);
      sweepStatus.textContent = running?.choice.kind === 'sweep-k' ? `running: ${Math.round(running.fraction * 100)}% ${running.message}` : '';
      expertsStatus.textContent = running?.choice.kind === 'ablate-each' ? `running: ${Math.round(running.fraction * 100)}% ${running.message}` : '';

      const a = cf.active && cf.active.kl.length === trace.tokens.length ? cf.active : null;
      effect.root.hidden = a === null;
      if (a) {
        const s = overlaySummary(a);
        const counts = effectCounts(a, layer ?? -1);
        const items: [string, string, string][] = [
          ['mean KL', fmt(s.meanKl, 4), 'Mean over tokens of KL(model ‖ counterfactual), nats'],
          ['max KL', fmt(s.maxKl, 4), 'Largest per-token KL, nats'],
          ['mean Δsurprisal', fmt(s.meanSurprisalDelta, 4), 'Mean change of the actual next token’s surprisal, nats (+ = worse)'],
          [`served by none (L${layer})`, String(counts.none), 'Tokens no expert took in the selected layer (expert choice)'],
        ];
        if (a.layers.some((l) => l.dropped)) {
          items.push([`dropped (L${layer})`, String(counts.dropped), 'Assignments lost to a full expert in the selected layer (capacity)']);
        }
        figures.replaceChildren(el('span', 'figures-title', a.mode));
        for (const [k, v, tip] of items) {
          const f = el('span', 'figure');
          f.title = tip;
          f.append(el('span', 'figure-value', v), el('span', 'figure-label muted', k));
          figures.appendChild(f);
        }
        const d = effectChart(trace, a);
        effect.resize();
        effect.update(d.option, d.rows, a.causal ? d.subtitle : `${d.subtitle} Not causal: expert choice lets each expert rank the whole window.`);
      }
      // Until a sweep has run the card is its title, a line and the button: the statistics stay near the top.
      sweepBox.hidden = cf.kSweep === null;
      if (cf.kSweep) {
        const d = kSweepChart(cf.kSweep, trace.model.topK);
        sweep.resize();
        sweep.update(d.option, d.rows, d.subtitle);
      } else {
        sweep.update({}, [], `Mean KL and mean Δsurprisal for k = 1…${trace.model.numExperts}: run the sweep (one pass per k).`);
      }
      renderExperts();
    },
    progress(fraction, message) {
      const text = `running: ${Math.round(fraction * 100)}% ${message}`;
      if (root.dataset.running === 'sweep-k') {
        sweepStatus.textContent = text;
      } else if (root.dataset.running === 'ablate-each') {
        expertsStatus.textContent = text;
      }
    },
    resize() {
      effect.resize();
      sweep.resize();
    },
  };
}
