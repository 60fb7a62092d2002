/**
 * @file Expert colours, the one palette of MoE Lens: the editor's decorations and both webview
 * panels take expert e's colour from here, so an expert looks the same everywhere for a given
 * `moeLens.colorScheme` (no vscode, no DOM: both sides import it). Up to 256 experts must stay tellable apart, so colours are picked in
 * OKLab (a perceptually even space) by greedy farthest-point sampling: expert 0..E-1 take the
 * first E picks, which makes any prefix as spread out as the method can make it. Opacity encodes
 * how decisive the top-1 choice was, in a few levels, so decoration types stay one per bucket.
 */

export type ColorScheme = 'categorical' | 'spectrum' | 'theme';
export const COLOR_SCHEMES: readonly ColorScheme[] = ['categorical', 'spectrum', 'theme'];

export function isColorScheme(v: unknown): v is ColorScheme {
  return typeof v === 'string' && (COLOR_SCHEMES as readonly string[]).includes(v);
}
export type ThemeKind = 'light' | 'dark' | 'highContrast' | 'highContrastLight';

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** Opacity levels per theme kind: light backgrounds need less alpha for the same visibility. */
export const OPACITY_LEVELS: Record<ThemeKind, readonly number[]> = {
  light: [0.16, 0.28, 0.4, 0.55],
  dark: [0.2, 0.34, 0.48, 0.64],
  highContrast: [0.4, 0.55, 0.7, 0.85],
  highContrastLight: [0.3, 0.45, 0.6, 0.75],
};
export const LEVELS = 4;

/**
 * Colours contributed to package.json as moeLens.expert{i}Background (the "theme" scheme). Their
 * defaults are the first 16 categorical colours (with theme-kind alpha), so "theme" looks like
 * "categorical" until a user customises them; experts past 16 reuse them (mod 16).
 */
export const THEMED_EXPERT_COLORS = 16;

/** Theme colour id of expert e's contributed colour (the editor resolves it with ThemeColor). */
export function themedColorId(expert: number): string {
  return `moeLens.expert${((expert % THEMED_EXPERT_COLORS) + THEMED_EXPERT_COLORS) % THEMED_EXPERT_COLORS}Background`;
}

/**
 * The CSS variable under which VS Code hands that colour to webviews: 'vscode-' + the id with its
 * first '.' replaced by '-' (the webview theming code does `id.replace('.', '-')`), so
 * moeLens.expert3Background → --vscode-moeLens-expert3Background.
 */
export function themedColorVar(expert: number): string {
  return `--vscode-${themedColorId(expert).replace('.', '-')}`;
}

// OKLab → linear sRGB → sRGB (Björn Ottosson's matrices).
function oklabToRgb(L: number, a: number, b: number): Rgb | null {
  const l_ = L + 0.3963377774 * a + 0.2158037573 * b;
  const m_ = L - 0.1055613458 * a - 0.0638541728 * b;
  const s_ = L - 0.0894841775 * a - 1.291485548 * b;
  const l = l_ ** 3;
  const m = m_ ** 3;
  const s = s_ ** 3;
  const lin = [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s,
  ];
  if (lin.some((c) => c < -1e-4 || c > 1 + 1e-4)) {
    return null; // out of the sRGB gamut
  }
  const enc = (c: number): number => {
    const x = Math.min(1, Math.max(0, c));
    const v = x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055;
    return Math.round(v * 255);
  };
  return { r: enc(lin[0]), g: enc(lin[1]), b: enc(lin[2]) };
}

interface Lab {
  L: number;
  a: number;
  b: number;
}

function labDistance(x: Lab, y: Lab): number {
  return Math.hypot(x.L - y.L, x.a - y.a, x.b - y.b);
}

/** Perceptual distance (ΔE in OKLab) between two sRGB colours; used by the tests. */
export function deltaE(x: Rgb, y: Rgb): number {
  return labDistance(rgbToOklab(x), rgbToOklab(y));
}

export function rgbToOklab({ r, g, b }: Rgb): Lab {
  const dec = (c: number): number => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [R, G, B] = [dec(r), dec(g), dec(b)];
  const l = Math.cbrt(0.4122214708 * R + 0.5363325363 * G + 0.0514459929 * B);
  const m = Math.cbrt(0.2119034982 * R + 0.6806995451 * G + 0.1073969566 * B);
  const s = Math.cbrt(0.0883024619 * R + 0.2817188376 * G + 0.6299787005 * B);
  return {
    L: 0.2104542553 * l + 0.793617785 * m - 0.0040720876 * s,
    a: 1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    b: 0.0259040371 * l + 0.7827717662 * m - 0.808825464 * s,
  };
}

const MAX_EXPERTS = 256;
let categorical: Rgb[] | null = null;

/** 256 colours, each as far (in OKLab) from all earlier ones as the candidate grid allows. */
function categoricalPalette(): Rgb[] {
  if (categorical) {
    return categorical;
  }
  // Mid lightness only: the colour sits under text, in light and dark themes alike.
  const candidates: { lab: Lab; rgb: Rgb }[] = [];
  for (const L of [0.55, 0.62, 0.69, 0.76, 0.83]) {
    for (const C of [0.07, 0.11, 0.15, 0.19]) {
      for (let h = 0; h < 360; h += 4) {
        const a = C * Math.cos((h * Math.PI) / 180);
        const b = C * Math.sin((h * Math.PI) / 180);
        const rgb = oklabToRgb(L, a, b);
        if (rgb) {
          candidates.push({ lab: { L, a, b }, rgb });
        }
      }
    }
  }
  // Start from a saturated orange-red so expert 0 looks the same however many experts there are.
  const target: Lab = { L: 0.69, a: 0.16, b: 0.09 };
  let seed = 0;
  candidates.forEach((c, i) => {
    if (labDistance(c.lab, target) < labDistance(candidates[seed].lab, target)) {
      seed = i;
    }
  });
  const minDist = candidates.map((c) => labDistance(c.lab, candidates[seed].lab));
  const picked: Rgb[] = [candidates[seed].rgb];
  minDist[seed] = -1;
  while (picked.length < MAX_EXPERTS) {
    let best = 0;
    for (let i = 1; i < candidates.length; i++) {
      if (minDist[i] > minDist[best]) {
        best = i;
      }
    }
    picked.push(candidates[best].rgb);
    minDist[best] = -1;
    for (let i = 0; i < candidates.length; i++) {
      if (minDist[i] >= 0) {
        minDist[i] = Math.min(minDist[i], labDistance(candidates[i].lab, candidates[best].lab));
      }
    }
  }
  categorical = picked;
  return picked;
}

/** Hue by expert index (neighbouring ids look alike), three lightness bands so 256 stay apart. */
function spectrumColor(expert: number, numExperts: number): Rgb {
  const n = Math.max(1, numExperts);
  const band = n > 32 ? expert % 3 : 1;
  const L = [0.6, 0.7, 0.8][band];
  const h = ((expert / n) * 330 * Math.PI) / 180;
  for (let C = 0.16; C > 0; C -= 0.01) {
    const rgb = oklabToRgb(L, C * Math.cos(h), C * Math.sin(h));
    if (rgb) {
      return rgb;
    }
  }
  return { r: 128, g: 128, b: 128 };
}

/**
 * The base (opaque) colour of an expert. Experts past 256 reuse colours. For "theme" this is the
 * categorical colour, i.e. the contributed colours' default; a side that can resolve the user's
 * theme colour (ThemeColor in the editor, the CSS variable in a webview) uses that instead.
 */
export function expertColor(expert: number, numExperts: number, scheme: ColorScheme): Rgb {
  const e = ((expert % MAX_EXPERTS) + MAX_EXPERTS) % MAX_EXPERTS;
  if (scheme === 'spectrum') {
    return spectrumColor(e, numExperts);
  }
  return categoricalPalette()[scheme === 'theme' ? e % THEMED_EXPERT_COLORS : e];
}

export function toHex({ r, g, b }: Rgb, alpha?: number): string {
  const h = (v: number): string => v.toString(16).padStart(2, '0');
  const a = alpha === undefined ? '' : h(Math.round(Math.min(1, Math.max(0, alpha)) * 255));
  return `#${h(r)}${h(g)}${h(b)}${a}`;
}

/**
 * How decisive the top-1 choice of a token was, in [0, 1]. With k ≥ 2 it is the top-1 weight's
 * share of the token's k weights, rescaled so an even split is 0 (works for renormalised, raw and
 * scaled gates alike); with k = 1 it is the weight itself (a probability for Switch-style gates).
 */
export function decisiveness(weights: readonly number[]): number {
  if (weights.length === 0) {
    return 0;
  }
  if (weights.length === 1) {
    return Math.min(1, Math.max(0, weights[0]));
  }
  const sum = weights.reduce((s, w) => s + Math.abs(w), 0);
  if (!(sum > 0)) {
    return 0;
  }
  const k = weights.length;
  const share = Math.abs(weights[0]) / sum;
  return Math.min(1, Math.max(0, (share - 1 / k) / (1 - 1 / k)));
}

export function opacityLevel(weights: readonly number[]): number {
  return Math.min(LEVELS - 1, Math.floor(decisiveness(weights) * LEVELS));
}

/** Key of a decoration bucket: one decoration type per (expert colour, opacity level). */
export function bucketKey(expert: number, level: number): string {
  return `${expert}:${level}`;
}
