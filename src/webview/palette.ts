/**
 * @file Expert colours in the panels: the editor's palette (src/shared/expertPalette.ts) for the
 * user's colour scheme, so expert e has the same colour in the editor and in both panels. For the
 * "theme" scheme the user's contributed colours (moeLens.expertNBackground) reach the webview as
 * CSS variables; they are read here, without their alpha (the panels apply their own). Also small
 * CSS colour helpers for the charts.
 */
import { expertColor, themedColorVar, type ColorScheme, type ThemeKind } from '../shared/expertPalette';

export type Rgb = [number, number, number];

let probe: HTMLElement | null = null;

/** Any CSS colour string → RGB, via the browser's own parser. */
export function toRgb(css: string): Rgb | null {
  if (!css.trim()) {
    return null;
  }
  if (!probe) {
    probe = document.createElement('span');
    probe.style.display = 'none';
    document.body.appendChild(probe);
  }
  probe.style.color = '';
  probe.style.color = css.trim();
  if (!probe.style.color) {
    return null;
  }
  const m = /rgba?\((\d+(?:\.\d+)?)[ ,]+(\d+(?:\.\d+)?)[ ,]+(\d+(?:\.\d+)?)/.exec(getComputedStyle(probe).color);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Colours for experts 0..n-1 under `scheme`, the same as the editor's decorations. */
export function expertPalette(n: number, scheme: ColorScheme): Rgb[] {
  // Only 16 themed colours exist (experts reuse them mod 16): read each variable once.
  const themed = new Map<string, Rgb | null>();
  const out: Rgb[] = [];
  for (let e = 0; e < n; e++) {
    if (scheme === 'theme') {
      const name = themedColorVar(e);
      if (!themed.has(name)) {
        themed.set(name, toRgb(cssVar(name)));
      }
      const c = themed.get(name);
      if (c) {
        out.push(c);
        continue;
      }
    }
    const { r, g, b } = expertColor(e, n, scheme);
    out.push([r, g, b]);
  }
  return out;
}

/** The theme kind from the class VS Code puts on a webview's body (as the editor's ColorThemeKind). */
export function themeKind(): ThemeKind {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) {
    return 'highContrastLight';
  }
  if (c.contains('vscode-high-contrast')) {
    return 'highContrast';
  }
  return c.contains('vscode-light') ? 'light' : 'dark';
}

export function rgba(c: Rgb, a: number): string {
  return `rgba(${c[0]},${c[1]},${c[2]},${a})`;
}

export function hex(c: Rgb): string {
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}
