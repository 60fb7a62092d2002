/**
 * @file The counterfactual mode selector both panels share: model routing | top-k K | expert choice F
 * | capacity F | dense | ablate L:E | force L:E, with a capacity-factor slider, Run / Cancel, the
 * running pass's progress, and the last run's note (cancelled, failed, not causal).
 */
import type { CounterfactualChoice, CounterfactualState } from '../shared/counterfactualView';
import { button, select } from './controls';
import { el } from './dom';

export interface BarModel {
  numExperts: number;
  topK: number;
  moeLayers: number[];
}

export interface CounterfactualBar {
  root: HTMLElement;
  /** The analysed model (options follow it); `layer` preselects ablate / force. */
  setModel(m: BarModel, layer: number | null): void;
  /** The host's counterfactual state for the document shown. */
  setState(s: CounterfactualState): void;
  setProgress(fraction: number, message: string): void;
}

type Kind = Exclude<CounterfactualChoice['kind'], 'sweep-k' | 'ablate-each'>;

const MODES: { value: Kind; label: string }[] = [
  { value: 'model', label: 'model routing' },
  { value: 'topk', label: 'top-k K' },
  { value: 'expert-choice', label: 'expert choice F' },
  { value: 'capacity', label: 'capacity F' },
  { value: 'dense', label: 'dense' },
  { value: 'ablate', label: 'ablate L:E' },
  { value: 'force', label: 'force L:E' },
];

/** Short words for a choice, for progress and notes. */
export function describeChoice(c: CounterfactualChoice): string {
  switch (c.kind) {
    case 'model':
      return 'model routing';
    case 'topk':
      return `top-${c.k}`;
    case 'expert-choice':
      return `expert choice, F = ${c.factor}`;
    case 'capacity':
      return `capacity, F = ${c.factor}`;
    case 'dense':
      return 'dense';
    case 'ablate':
      return `ablate L${c.layer}:E${c.expert}`;
    case 'force':
      return `force L${c.layer}:E${c.expert}`;
    case 'sweep-k':
      return 'k sweep';
    case 'ablate-each':
      return `ablate each expert of layer ${c.layer}`;
  }
}

export function counterfactualBar(onRun: (c: CounterfactualChoice) => void, onCancel: () => void): CounterfactualBar {
  const root = el('div', 'cf-bar');
  root.dataset.cf = 'bar';
  let kind: Kind = 'model';
  let model: BarModel | null = null;
  let hadActive = false;
  const mode = select('Routing', (v) => {
    kind = (MODES.find((m) => m.value === v)?.value ?? 'model') as Kind;
    showParams();
    // Back to the model's own routing needs no engine pass: do it at once.
    if (kind === 'model') {
      onRun({ kind: 'model' });
    }
  });
  mode.root.dataset.param = 'mode';
  const k = select('K', () => undefined);
  k.root.dataset.param = 'k';
  const factorBox = el('label', 'control');
  factorBox.dataset.param = 'factor';
  const slider = el('input', 'cf-slider');
  slider.type = 'range';
  slider.min = '0.25';
  slider.max = '4';
  slider.step = '0.25';
  slider.value = '1';
  slider.setAttribute('aria-label', 'Capacity factor');
  const factorValue = el('output', 'cf-factor', '1.00');
  slider.addEventListener('input', () => (factorValue.textContent = Number(slider.value).toFixed(2)));
  factorBox.append(el('span', 'control-label', 'capacity factor F'), slider, factorValue);
  const layer = select('Layer', () => undefined);
  layer.root.dataset.param = 'layer';
  const expert = select('Expert', () => undefined);
  expert.root.dataset.param = 'expert';
  const run = button('Run', 'Run this routing over the document in the engine', () => onRun(choice()), false);
  run.dataset.action = 'run';
  const cancel = button('Cancel', 'Stop the running counterfactual (its partial results are dropped)', onCancel);
  cancel.dataset.action = 'cancel';
  cancel.hidden = true;
  const status = el('span', 'cf-status muted');
  const note = el('span', 'cf-note note');
  root.append(mode.root, k.root, factorBox, layer.root, expert.root, run, cancel, status, note);

  function choice(): CounterfactualChoice {
    const factor = Number(slider.value);
    switch (kind) {
      case 'topk':
        return { kind, k: Number(k.value) };
      case 'expert-choice':
      case 'capacity':
        return { kind, factor };
      case 'ablate':
      case 'force':
        return { kind, layer: Number(layer.value), expert: Number(expert.value) };
      default:
        return { kind };
    }
  }

  function showParams(): void {
    k.root.hidden = kind !== 'topk';
    factorBox.hidden = kind !== 'expert-choice' && kind !== 'capacity';
    layer.root.hidden = expert.root.hidden = kind !== 'ablate' && kind !== 'force';
    run.hidden = kind === 'model';
  }

  function setChoice(c: CounterfactualChoice): void {
    if (c.kind === 'sweep-k' || c.kind === 'ablate-each') {
      return;
    }
    kind = c.kind;
    mode.set(MODES, kind);
    if (c.kind === 'topk') {
      k.set(kOptions(), String(c.k));
    } else if (c.kind === 'expert-choice' || c.kind === 'capacity') {
      slider.value = String(c.factor);
      factorValue.textContent = c.factor.toFixed(2);
    } else if (c.kind === 'ablate' || c.kind === 'force') {
      layer.set(layerOptions(), String(c.layer));
      expert.set(expertOptions(), String(c.expert));
    }
    showParams();
  }

  const kOptions = (): { value: string; label: string }[] => Array.from({ length: model?.numExperts ?? 0 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) }));
  const layerOptions = (): { value: string; label: string }[] => (model?.moeLayers ?? []).map((l) => ({ value: String(l), label: `L${l}` }));
  const expertOptions = (): { value: string; label: string }[] => Array.from({ length: model?.numExperts ?? 0 }, (_, e) => ({ value: String(e), label: `E${e}` }));

  mode.set(MODES, kind);
  showParams();

  return {
    root,
    setModel(m, selected) {
      const same = model && model.numExperts === m.numExperts && model.moeLayers.join() === m.moeLayers.join();
      model = m;
      if (!same) {
        // A model's own k is the natural first comparison: start one below it.
        k.set(kOptions(), String(Math.max(1, m.topK - 1)));
        layer.set(layerOptions(), String(selected ?? m.moeLayers[0] ?? ''));
        expert.set(expertOptions(), '0');
      }
    },
    setState(s) {
      const running = s.running !== null;
      cancel.hidden = !running;
      run.toggleAttribute('disabled', running);
      root.dataset.running = String(running);
      status.textContent = running ? `${describeChoice(s.running!.choice)}: ${Math.round(s.running!.fraction * 100)}% ${s.running!.message}` : s.active ? `showing ${describeChoice(s.active.choice)} (mode ${s.active.mode})` : '';
      const notes: string[] = [];
      if (s.note) {
        notes.push(s.note);
      }
      if (s.active && !s.active.causal) {
        notes.push('Not causal: expert choice lets each expert rank the whole window, so a token’s routing depends on later tokens.');
      }
      note.textContent = notes.join(' ');
      if (s.active) {
        setChoice(s.active.choice);
      } else if (hadActive) {
        setChoice({ kind: 'model' }); // dropped (re-analysis) or cleared elsewhere
      }
      hadActive = s.active !== null;
    },
    setProgress(fraction, message) {
      if (root.dataset.running === 'true') {
        status.textContent = `${Math.round(fraction * 100)}% ${message}`;
      }
    },
  };
}
