/**
 * @file How a token looks in the routed-token view: its top-1 expert's colour as the background, at
 * the alpha of the editor's opacity bucket for that token, and its top-k experts as proportional
 * segments (by applied gate weight) along the bottom edge; the all-layers strip stacks each MoE
 * layer's top-1 colour from the first layer down.
 */
import { OPACITY_LEVELS, opacityLevel, type ThemeKind } from '../shared/expertPalette';
import type { RoutingTrace } from '../shared/trace';
import { rgba, type Rgb } from './palette';
import type { TokenLook } from './tokenView';

const BAR_PX = 4;

export function tokenLook(trace: RoutingTrace, layer: number, palette: Rgb[], withStrip: boolean, kind: ThemeKind): TokenLook {
  const routing = trace.layers.find((l) => l.layer === layer && l.kind === 'moe');
  const moe = trace.layers.filter((l) => l.kind === 'moe' && l.experts);
  // The same opacity bucket as the editor's decoration of this token (decisiveness of the gate).
  const fills = OPACITY_LEVELS[kind];
  const background = (t: number): string => {
    const experts = routing?.experts?.[t];
    // A trace without gate weights (an imported npy): the experts still colour the token, in equal shares.
    const weights = routing?.weights?.[t] ?? experts?.map(() => 1);
    if (!experts || !weights || !experts.length) {
      return '';
    }
    const total = weights.reduce((a, b) => a + Math.max(0, b), 0);
    let at = 0;
    const stops: string[] = [];
    experts.forEach((e, j) => {
      // Weights are shown relative to their sum: raw-softmax and scaled gates do not sum to 1.
      const w = total > 0 ? Math.max(0, weights[j]!) / total : 1 / experts.length;
      const c = rgba(palette[e] ?? [128, 128, 128], 1);
      const next = j === experts.length - 1 ? 100 : at + w * 100;
      stops.push(`${c} ${at.toFixed(1)}% ${next.toFixed(1)}%`);
      at = next;
    });
    const top = palette[experts[0]!] ?? [128, 128, 128];
    return `linear-gradient(to right, ${stops.join(', ')}) left bottom / 100% ${BAR_PX}px no-repeat, ${rgba(top, fills[opacityLevel(weights)]!)}`;
  };
  const strip = withStrip
    ? (t: number): string => {
        const n = moe.length;
        const stops = moe.map((l, j) => {
          const e = l.experts![t]?.[0];
          const c = e === undefined ? 'transparent' : rgba(palette[e] ?? [128, 128, 128], 1);
          return `${c} ${((j / n) * 100).toFixed(2)}% ${(((j + 1) / n) * 100).toFixed(2)}%`;
        });
        return `linear-gradient(to bottom, ${stops.join(', ')})`;
      }
    : null;
  return { background, strip, stripHeight: stripHeight(moe.length) };
}

/** 2 px per layer up to 24 layers, then squeezed to at most 48 px. */
export function stripHeight(layers: number): number {
  return Math.max(4, Math.min(48, layers * 2));
}
