/**
 * @file The hover's Markdown, built from the cached trace. It is rendered untrusted with no HTML;
 * on top of that every piece of document text is escaped here, so a token can never become a
 * link, an image, emphasis or a table cell break, and invisible characters are shown by name.
 */
import type { CounterfactualOverlay } from '../../shared/counterfactualView';
import { DIGITS, formatFigure as fmt, formatShare, tokenFacts } from '../../shared/tokenFacts';
import { visibleTokenText } from '../../shared/tokenText';
import type { GateKind, RoutingTrace } from '../../shared/trace';
import { layerHasScores, NOT_IN_TRACE } from '../../shared/traceFields';

/** Backslash-escapes every ASCII punctuation character but the comma (all are escapable in CommonMark). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[!-+\--/:-@[-`{-~]/g, (c) => `\\${c}`);
}

/** A token's text made visible (shared glyphs, tokenText.ts) and inert (Markdown-escaped). */
export function displayTokenText(text: string): string {
  return escapeMarkdown(visibleTokenText(text, 0));
}

const GATE_SHORT: Record<GateKind, string> = {
  'softmax-renormalized': 'softmax, renormalised over the chosen k',
  'softmax-raw': 'raw softmax probability (the k weights sum to less than 1)',
  'topk-softmax': 'softmax over the k chosen logits',
  'sigmoid-scaled': 'sigmoid score × routed scaling factor',
  'softmax-scaled': 'softmax probability × routed scaling factor',
  unknown: 'not known (an imported trace that does not say)',
};

export interface HoverOptions {
  /** At most this many "other layer" lines (the rest summarised); default all. */
  maxOtherLayers?: number;
  /** The active counterfactual: one line with its effect on the token. */
  counterfactual?: CounterfactualOverlay | null;
}

function signed(x: number, digits: number): string {
  return `${x >= 0 ? '+' : ''}${fmt(x, digits)}`;
}

/** One line: the active counterfactual's effect on token `t` and who served it in `layer`. */
export function counterfactualHoverLine(cf: CounterfactualOverlay, t: number, layer: number): string {
  const head = `Counterfactual **${escapeMarkdown(cf.mode)}**${cf.causal ? '' : ' (not causal: expert choice ranks the whole window)'}:`;
  const kl = cf.kl[t];
  if (kl === null || kl === undefined) {
    return `${head} this token was not in the passes' windows.`;
  }
  const parts = [`KL ${fmt(kl, 4)} nats`];
  const d = cf.surprisalDelta[t];
  parts.push(d === null || d === undefined ? 'Δsurprisal – (last token)' : `Δsurprisal ${signed(d, 3)} nats`);
  const l = cf.layers.find((x) => x.layer === layer);
  const served = l?.experts[t];
  if (l && served) {
    const list = served.length === 0 ? 'none (residual and shared expert only)' : served.map((e, i) => `${e} ${fmt(l.weights[t]?.[i], 2)}`).join(', ');
    const dropped = l.dropped?.[t];
    parts.push(`L${layer} served by ${list}${dropped && dropped.length ? ` · dropped ${dropped.join(', ')}` : ''}`);
  }
  return `${head} ${parts.join(' · ')}`;
}

/** Markdown for token `t` with `selectedLayer` (a checkpoint layer number) in focus. */
export function buildHoverMarkdown(trace: RoutingTrace, t: number, selectedLayer: number, opts: HoverOptions = {}): string {
  const tok = trace.tokens[t];
  const info = trace.model;
  const lines: string[] = [];
  const text = escapeMarkdown(visibleTokenText(tok.text, tok.id));
  lines.push(`**MoE Lens** · token #${t} of ${trace.tokens.length} (numbered from 0, as in the trace) · id ${tok.id ?? NOT_IN_TRACE}${tok.partial ? ' · part of a split character' : ''}`);
  lines.push('');
  lines.push(`Token: **${text}**`);
  lines.push('');
  if (opts.counterfactual) {
    // Near the top: the question the user is asking while a counterfactual is active.
    lines.push(counterfactualHoverLine(opts.counterfactual, t, selectedLayer));
    lines.push('');
  }

  const layer = trace.layers.find((l) => l.layer === selectedLayer);
  const r = layer ? tokenFacts(info, layer, t) : null;
  if (!layer) {
    lines.push(`Layer ${selectedLayer} is not in this trace.`);
  } else if (!r) {
    lines.push(`**Layer ${selectedLayer}** is dense (no router).`);
  } else {
    lines.push(`**Layer ${selectedLayer}** · top-${r.experts.length} of ${info.numExperts} experts · weight = ${GATE_SHORT[info.gate] ?? escapeMarkdown(info.gate)}`);
    lines.push('');
    // An imported trace lacks some parts: name them rather than show blanks.
    const missing = [!layer.weights && 'gate weights', !layerHasScores(layer) && 'router scores and logits', info.hasSharedExpert && !layer.sharedWeight && 'shared-expert weight'].filter(Boolean);
    if (missing.length) {
      lines.push(`*${missing.join(', ')}: ${NOT_IN_TRACE} (imported from a source without them).*`);
      lines.push('');
    }
    lines.push('| expert | weight | score | score rank |');
    lines.push('|---:|---:|---:|---:|');
    r.experts.forEach((e, i) => {
      lines.push(`| ${e} | ${fmt(r.weights[i], DIGITS.weight)} | ${fmt(r.scores[i], DIGITS.score)} | ${r.scoreRanks[i] ?? '–'} |`);
    });
    lines.push('');
    const facts: string[] = [];
    if (r.sharedShare !== null) {
      facts.push(`shared expert ${formatShare(r.sharedShare)} of gate weight`);
    }
    if (r.entropy !== null) {
      facts.push(`entropy ${fmt(r.entropy, DIGITS.entropy)} nats (${formatShare(r.normalizedEntropy)} of max)`);
    }
    if (r.margin !== null) {
      facts.push(`margin ${fmt(r.margin, DIGITS.margin)} to near miss expert ${r.nearMiss} (by ${r.selectionBy})`);
    }
    const s = trace.surprisal[t];
    const noSurprisal = trace.surprisal.every((x) => x === null);
    facts.push(`surprisal ${s === null || s === undefined ? (noSurprisal ? NOT_IN_TRACE : '– (last token)') : `${fmt(s, 2)} nats`}`);
    lines.push(facts.join(' · '));
    lines.push('');
    lines.push(`*${escapeMarkdown(info.gateDescription)}*`);
  }

  const others = trace.layers.filter((l) => l.layer !== selectedLayer && l.kind === 'moe');
  if (others.length > 0) {
    lines.push('');
    lines.push('Other layers:');
    lines.push('');
    const max = opts.maxOtherLayers ?? others.length;
    const shown = others.slice(0, max).map((l) => {
      const o = tokenFacts(info, l, t);
      const parts = o ? o.experts.map((e, i) => `${e} ${fmt(o.weights[i], 2)}`).join(', ') : '–';
      return `L${l.layer}: ${parts}`;
    });
    // Two trailing spaces: a hard line break, one compact line per layer.
    lines.push(shown.join('  \n'));
    if (others.length > max) {
      lines.push('');
      lines.push(`… and ${others.length - max} more layers`);
    }
  }
  return lines.join('\n');
}
