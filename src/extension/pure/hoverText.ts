/**
 * @file The hover's Markdown, built from the cached trace. It is rendered untrusted with no HTML;
 * on top of that every piece of document text is escaped here, so a token can never become a
 * link, an image, emphasis or a table cell break, and invisible characters are shown by name.
 */
import type { GateKind, RoutingTrace } from '../../shared/trace';
import { tokenRouting } from './routingMath';

/** Backslash-escapes every ASCII punctuation character but the comma (all are escapable in CommonMark). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[!-+\--/:-@[-`{-~]/g, (c) => `\\${c}`);
}

/**
 * A token's text made visible and inert: whitespace and control/bidi/zero-width characters as
 * symbols or ⟨U+XXXX⟩ (so nothing hides or reorders the line), then Markdown-escaped.
 */
export function displayTokenText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '\n') {
      out += '↵';
    } else if (ch === '\r') {
      out += '␍';
    } else if (ch === '\t') {
      out += '⇥';
    } else if (ch === ' ') {
      out += '·';
    } else if (
      cp < 0x20 ||
      (cp >= 0x7f && cp <= 0x9f) ||
      (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0x202a && cp <= 0x202e) ||
      (cp >= 0x2060 && cp <= 0x2069) ||
      cp === 0xfeff ||
      cp === 0xfffd
    ) {
      out += `⟨U+${cp.toString(16).toUpperCase().padStart(4, '0')}⟩`;
    } else {
      out += ch;
    }
  }
  return escapeMarkdown(out);
}

const GATE_SHORT: Record<GateKind, string> = {
  'softmax-renormalized': 'softmax, renormalised over the chosen k',
  'softmax-raw': 'raw softmax probability (the k weights sum to less than 1)',
  'topk-softmax': 'softmax over the k chosen logits',
  'sigmoid-scaled': 'sigmoid score × routed scaling factor',
  'softmax-scaled': 'softmax probability × routed scaling factor',
};

function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** Scores are probabilities (so their entropy means something) for the softmax-scored families. */
export function scoresAreProbabilities(gate: GateKind): boolean {
  return gate === 'softmax-renormalized' || gate === 'softmax-raw' || gate === 'softmax-scaled';
}

export interface HoverOptions {
  /** At most this many "other layer" lines (the rest summarised); default all. */
  maxOtherLayers?: number;
}

/** Markdown for token `t` with `selectedLayer` (a checkpoint layer number) in focus. */
export function buildHoverMarkdown(trace: RoutingTrace, t: number, selectedLayer: number, opts: HoverOptions = {}): string {
  const tok = trace.tokens[t];
  const info = trace.model;
  const probs = scoresAreProbabilities(info.gate);
  const lines: string[] = [];
  const text = tok.text === null ? '(no text)' : displayTokenText(tok.text);
  lines.push(`**MoE Lens** · token #${t} of ${trace.tokens.length} (numbered from 0, as in the trace) · id ${tok.id}${tok.partial ? ' · part of a split character' : ''}`);
  lines.push('');
  lines.push(`Token: **${text}**`);
  lines.push('');

  const layer = trace.layers.find((l) => l.layer === selectedLayer);
  const r = layer ? tokenRouting(layer, t, probs) : null;
  if (!layer) {
    lines.push(`Layer ${selectedLayer} is not in this trace.`);
  } else if (!r) {
    lines.push(`**Layer ${selectedLayer}** is dense (no router).`);
  } else {
    lines.push(`**Layer ${selectedLayer}** · top-${r.experts.length} of ${info.numExperts} experts · weight = ${GATE_SHORT[info.gate] ?? escapeMarkdown(info.gate)}`);
    lines.push('');
    lines.push('| expert | weight | score |');
    lines.push('|---:|---:|---:|');
    r.experts.forEach((e, i) => {
      lines.push(`| ${e} | ${fmt(r.weights[i])} | ${fmt(layer.scores?.[t]?.[e])} |`);
    });
    lines.push('');
    const facts: string[] = [];
    if (r.sharedShare !== null) {
      facts.push(`shared expert ${fmt(r.sharedShare * 100, 1)} % of gate weight`);
    }
    if (r.entropy !== null) {
      facts.push(`entropy ${fmt(r.entropy, 2)} nats (${fmt((r.normalizedEntropy ?? 0) * 100, 0)} % of max)`);
    }
    if (r.margin !== null) {
      facts.push(`margin ${fmt(r.margin)} to expert ${r.nearMiss ?? '–'}`);
    }
    const s = trace.surprisal[t];
    facts.push(`surprisal ${s === null || s === undefined ? '– (last token)' : `${fmt(s, 2)} nats`}`);
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
      const o = tokenRouting(l, t, probs);
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
