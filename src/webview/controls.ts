/**
 * @file Native-looking controls from @vscode-elements/elements (Lit web components styled by the
 * VS Code theme variables), wrapped so the panels deal in plain values.
 */
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { custom, el } from './dom';

export interface Select {
  root: HTMLElement;
  set(options: { value: string; label: string }[], value: string): void;
  get value(): string;
}

/** A labelled drop-down; `onChange` gets the picked value. */
export function select(label: string, onChange: (value: string) => void): Select {
  const root = el('label', 'control');
  root.appendChild(el('span', 'control-label', label));
  const sel = custom('vscode-single-select') as HTMLElement & { value: string };
  sel.setAttribute('aria-label', label);
  root.appendChild(sel);
  sel.addEventListener('change', () => onChange(sel.value));
  return {
    root,
    set(options, value) {
      const current = [...sel.children].map((o) => o.getAttribute('value')).join('\u0000');
      if (current !== options.map((o) => o.value).join('\u0000')) {
        sel.replaceChildren(...options.map((o) => custom('vscode-option', { value: o.value }, o.label)));
      }
      sel.value = value;
      sel.dataset.value = value;
    },
    get value() {
      return sel.value;
    },
  };
}

export function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void): HTMLElement {
  const box = custom('vscode-checkbox', checked ? { checked: '' } : {}, label) as HTMLElement & { checked: boolean };
  box.addEventListener('change', () => onChange(box.checked));
  return box;
}

export function button(label: string, title: string, onClick: () => void, secondary = true): HTMLElement {
  const b = custom('vscode-button', secondary ? { secondary: '' } : {}, label);
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}
