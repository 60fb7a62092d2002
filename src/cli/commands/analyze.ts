/** `moe-lens analyze`: a readable per-token routing table and per-layer expert load for a document. */
import { maxOverMean, slotShare } from '../../shared/routingStats';
import { DIGITS, formatFigure, formatShare, tokenFacts } from '../../shared/tokenFacts';
import { revealInvisibles, visibleTokenText } from '../../shared/tokenText';
import { type LayerRouting, type RoutingTrace } from '../../shared/trace';
import { TraceError } from '../../shared/traceCheck';
import { readTraceJson } from '../../shared/traceCodec';
import { traceText } from '../../engine/analyze';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { MAX_DOCUMENT_BYTES, MAX_TRACE_BYTES, formatBytes } from '../../engine/files';
import { intOption, maxMemoryOption, parseCommandArgs, stderrProgress, threadsOption } from '../args';
import { CliError, type CliCommand } from '../command';
import { documentText, readInputBytes } from '../document';
import { modelDirFrom, openModel } from './trace';

/** The largest saved trace read back (JSON.parse needs it as one string, and V8 strings end near 512 MB). */

const usage = `usage: moe-lens analyze FILE [--model DIR] [--layer N] [--backend node|wasm|cpu] [--threads N] [--max-memory MB] [--progress]

FILE is a text document (run through the model) or a trace JSON written by 'moe-lens trace'
(validated, then shown). Prints, per token, the chosen experts with their gate weights, the
shared expert's share, router entropy, margin and near-miss expert (the same figures as the hover
and the token detail), then each layer's expert load. --layer N limits the token table to
checkpoint layer N. FILE - reads standard input. A document is at most 16 MB of UTF-8 text
(binary files are refused), a saved trace 256 MB. Progress goes to stderr when it is a terminal,
or always with --progress. --max-memory MB bounds the engine's memory (see 'moe-lens trace --help').`;

const fmt = (v: number | null | undefined, digits = 3): string => formatFigure(v, digits);

/** The token's text with the hover's and the panel's glyphs, cut to 16 columns. */
function tokenLabel(trace: RoutingTrace, t: number): string {
  const tok = trace.tokens[t];
  const label = Array.from(visibleTokenText(tok.text, tok.id));
  return label.length > 16 ? label.slice(0, 15).join('') + '…' : label.join('');
}

/** Per-token table of one MoE layer, figures from the shared per-token facts. */
export function tokenTable(trace: RoutingTrace, l: LayerRouting): string[] {
  const lines = [`layer ${l.layer} (${l.kind})`];
  if (l.kind !== 'moe' || !l.experts) {
    return [...lines, '  dense layer: no routing'];
  }
  if (!l.weights) {
    lines.push('  (no gate weights in this trace: imported from a source without them)');
  }
  const k = trace.model.topK;
  const shared = l.sharedWeight !== null;
  lines.push(
    `  ${'#'.padStart(5)}  ${'token'.padEnd(16)}  ${'experts (weight)'.padEnd(12 * k)}${shared ? '  shared' : ''}  entropy   margin  near  surprisal`,
  );
  for (let t = 0; t < trace.tokens.length; t++) {
    const f = tokenFacts(trace.model, l, t)!;
    const chosen = f.experts.map((e, j) => `${e} (${fmt(f.weights[j], DIGITS.weight)})`.padEnd(12)).join('');
    const share = shared ? `  ${formatShare(f.sharedShare).padStart(6)}` : '';
    const near = f.nearMiss === null ? '–' : `E${f.nearMiss}`;
    lines.push(
      `  ${String(t).padStart(5)}  ${tokenLabel(trace, t).padEnd(16)}  ${chosen.padEnd(12 * k)}${share}  ${fmt(f.entropy, DIGITS.entropy).padStart(7)}  ${fmt(f.margin, DIGITS.margin).padStart(7)}  ${near.padStart(4)}  ${fmt(trace.surprisal[t])}`,
    );
  }
  return lines;
}

/** Share of routed slots per expert, busiest first, with how many experts got none. */
export function loadSummary(trace: RoutingTrace, l: LayerRouting): string {
  if (l.kind !== 'moe' || !l.experts) {
    return `  layer ${String(l.layer).padStart(3)}: dense`;
  }
  const E = trace.model.numExperts;
  const f = slotShare(l.experts, E);
  const ranked = f.map((x, e) => [e, x] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const top = ranked.slice(0, 6).map(([e, x]) => `${e}:${(100 * x).toFixed(1)}%`).join(' ');
  const unused = f.filter((x) => x === 0).length;
  return `  layer ${String(l.layer).padStart(3)}: busiest ${top}  | max/mean load ${fmt(maxOverMean(f), 2)}  | unused ${unused}/${E}`;
}

export function renderAnalysis(trace: RoutingTrace, layer?: number): string {
  const m = trace.model;
  const shown = layer === undefined ? trace.layers.filter((l) => l.kind === 'moe') : trace.layers.filter((l) => l.layer === layer);
  if (layer !== undefined && shown.length === 0) {
    throw new CliError(`--layer ${layer}: the model has layers ${trace.layers.map((l) => l.layer).join(', ')}`, 2);
  }
  const known = trace.surprisal.filter((s): s is number => s !== null);
  const mean = known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  // Strings from a saved trace reach the terminal: control characters are shown by name, never sent.
  return [
    `model ${revealInvisibles(m.name)} (${revealInvisibles(m.modelType)}): ${m.numLayers} layers, ${m.numExperts} experts, top-${m.topK}; backend ${revealInvisibles(trace.backend)}`,
    `gate: ${revealInvisibles(m.gateDescription)}`,
    `${trace.tokens.length} tokens, mean surprisal ${fmt(mean)} nats`,
    '',
    ...shown.flatMap((l) => [...tokenTable(trace, l), '']),
    'expert load (share of routed slots):',
    ...trace.layers.map((l) => loadSummary(trace, l)),
  ].join('\n');
}

/** A trace writer puts the schema first; a file that opens like this is a trace, even when cut short. */
const TRACE_HEAD = /^\s*\{\s*"schema"\s*:\s*"moe-lens\.trace\//;

/** The saved trace in `text`, validated; null when the file is a document to run through the model. */
function readTraceFile(file: string, text: string): RoutingTrace | null {
  if (!TRACE_HEAD.test(text.slice(0, 256))) {
    if (!text.trimStart().startsWith('{')) {
      return null;
    }
    // JSON in another key order: a trace when it says so, else a document like any other.
    try {
      const json = JSON.parse(text) as { schema?: unknown };
      if (typeof json.schema !== 'string' || !json.schema.startsWith('moe-lens.trace')) {
        return null;
      }
    } catch {
      return null;
    }
  }
  try {
    return readTraceJson(text);
  } catch (err) {
    if (err instanceof TraceError) {
      throw new CliError(`${revealInvisibles(file)}: not a usable trace: ${err.message.replace(/^trace: /, '')}`);
    }
    throw err;
  }
}

export const analyzeCommand: CliCommand = {
  name: 'analyze',
  summary: 'per-token routing table and expert load for a text file or a saved trace',
  usage,
  async run(argv) {
    const { values, positional } = parseCommandArgs(argv, { model: 'string', layer: 'string', backend: 'string', threads: 'string', 'max-memory': 'string', progress: 'boolean' }, 1);
    if (positional.length !== 1) {
      throw new CliError('give exactly one FILE to analyze', 2);
    }
    const layer = intOption(values.layer, 'layer');
    const maxMemoryBytes = maxMemoryOption(values['max-memory']);
    const threads = threadsOption(values.threads);
    const file = positional[0];
    // A saved trace may be far larger than a document; the document limit applies once it is not one.
    const bytes = await readInputBytes(file, { maxBytes: MAX_TRACE_BYTES, what: 'the file' });
    const text = new TextDecoder('utf-8').decode(bytes);
    let trace = readTraceFile(file, text);
    if (!trace) {
      if (bytes.length > MAX_DOCUMENT_BYTES) {
        throw new CliError(`${file}: the document is ${formatBytes(bytes.length)}, over the ${formatBytes(MAX_DOCUMENT_BYTES)} limit`);
      }
      const document = documentText(bytes, file);
      const dir = modelDirFrom(values.model);
      const progress = stderrProgress('moe-lens', values.progress);
      process.stderr.write(`moe-lens: loading ${dir}\n`);
      const model = await openModel(dir, values.backend, maxMemoryBytes, threads);
      try {
        const tokenizer = await loadTokenizer(dir);
        try {
          trace = await traceText(model, tokenizer, document, { onProgress: progress });
        } finally {
          tokenizer.dispose();
        }
      } finally {
        model.dispose();
      }
    }
    process.stdout.write(renderAnalysis(trace, layer) + '\n');
    return 0;
  },
};
