/**
 * @file The colour scale of a counterfactual's effect on a token: KL(model ‖ counterfactual) in nats
 * on fixed, roughly logarithmic steps, so the same colour means the same effect in every mode and
 * document. Colours are ColorBrewer's sequential YlOrRd (7 classes), legible on light and dark
 * themes because the token text is drawn dark on them. No DOM: unit-tested.
 */

/** Lower edges of the coloured steps, nats; below the first the token is left uncoloured. */
export const KL_STEPS = [0.001, 0.01, 0.03, 0.1, 0.3, 1, 3] as const;

/** One colour per step (YlOrRd 7-class, light to dark). */
export const KL_COLORS = ['#ffffb2', '#fed976', '#feb24c', '#fd8d3c', '#fc4e2a', '#e31a1c', '#b10026'] as const;

/** Text colour on each step: dark on the light ones, light on the two darkest. */
const TEXT_ON = ['#000000', '#000000', '#000000', '#000000', '#000000', '#ffffff', '#ffffff'] as const;

/** The step of a KL value: -1 below the first (no visible effect) or when there is none. */
export function klStep(kl: number | null | undefined): number {
  if (kl === null || kl === undefined || !Number.isFinite(kl)) {
    return -1;
  }
  let step = -1;
  KL_STEPS.forEach((edge, i) => {
    if (kl >= edge) {
      step = i;
    }
  });
  return step;
}

/** Background and text colour for a KL value, or null for an uncoloured token. */
export function klColors(kl: number | null | undefined): { background: string; text: string } | null {
  const s = klStep(kl);
  return s < 0 ? null : { background: KL_COLORS[s]!, text: TEXT_ON[s]! };
}

/** The legend's entries: colour and the range it stands for. */
export function klLegend(): { color: string; label: string }[] {
  return KL_STEPS.map((edge, i) => ({ color: KL_COLORS[i]!, label: i + 1 < KL_STEPS.length ? `${edge}–${KL_STEPS[i + 1]}` : `≥ ${edge}` }));
}
