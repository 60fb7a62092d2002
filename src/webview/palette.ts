/**
 * @file Expert colours taken from the VS Code theme: the chart colours first, then the terminal
 * ANSI colours, then evenly spread hues for models with many experts. Resolved to RGB once per
 * theme so canvas charts and CSS gradients can use them with any alpha.
 */

export type Rgb = [number, number, number];

const THEME_VARS = [
  '--vscode-charts-blue',
  '--vscode-charts-orange',
  '--vscode-charts-green',
  '--vscode-charts-red',
  '--vscode-charts-purple',
  '--vscode-charts-yellow',
  '--vscode-terminal-ansiCyan',
  '--vscode-terminal-ansiMagenta',
  '--vscode-terminal-ansiBrightBlue',
  '--vscode-terminal-ansiBrightGreen',
  '--vscode-terminal-ansiBrightRed',
  '--vscode-terminal-ansiBrightYellow',
];

/** Defaults when a theme leaves a variable out (VS Code's Dark+ chart colours). */
const FALLBACK: Rgb[] = [
  [55, 148, 255],
  [209, 134, 22],
  [137, 209, 133],
  [241, 76, 76],
  [179, 128, 255],
  [204, 167, 0],
];

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

/** Two colours a reader could confuse: closer than 64 in RGB. */
export function tooClose(a: Rgb, b: Rgb): boolean {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) < 64;
}

function hsl(h: number, s: number, l: number): Rgb {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** `n` distinct colours for experts 0..n-1 in the current theme. */
export function expertPalette(n: number): Rgb[] {
  const base: Rgb[] = [];
  THEME_VARS.forEach((v, i) => {
    const c = toRgb(cssVar(v)) ?? FALLBACK[i];
    // Themes repeat colours (charts.red = ansiBrightRed, charts.blue ≈ ansiBrightBlue): skip near twins.
    if (c && !base.some((b) => tooClose(b, c))) {
      base.push(c);
    }
  });
  if (n <= base.length) {
    return base.slice(0, n);
  }
  // Past the theme's colours, spread hues by the golden angle so neighbours stay distinct.
  const dark = document.body.classList.contains('vscode-dark') || document.body.classList.contains('vscode-high-contrast');
  const out = [...base];
  for (let i = base.length; i < n; i++) {
    out.push(hsl((i * 137.508) % 360, 0.65, dark ? 0.62 : 0.45));
  }
  return out;
}

export function rgba(c: Rgb, a: number): string {
  return `rgba(${c[0]},${c[1]},${c[2]},${a})`;
}

export function hex(c: Rgb): string {
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}
