/** `moe-lens analyze`: a readable per-token routing table and per-layer expert load for a document. */
import * as fs from 'node:fs';
import { TRACE_SCHEMA, type LayerRouting, type RoutingTrace } from '../../shared/trace';
import { traceText } from '../../engine/analyze';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { parseArgs, stderrProgress, stringFlag } from '../args';
import { CliError, type CliCommand } from '../command';
import { modelDirFrom, openModel } from './trace';

const usage = `usage: moe-lens analyze FILE [--model DIR] [--layer N] [--backend node|wasm|cpu]

FILE is a text document (run through the model) or a trace JSON written by 'moe-lens trace'
(shown as is). Prints, per token, the chosen experts with their gate weights, then each layer's
expert load. --layer N limits the token table to checkpoint layer N. Progress goes to stderr.`;

const fmt = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined ? '—' : v.toFixed(digits));

function tokenLabel(trace: RoutingTrace, t: number): string {
  const tok = trace.tokens[t];
  const label = tok.text === null ? `#${tok.id}` : JSON.stringify(tok.text);
  return label.length > 16 ? label.slice(0, 15) + '…' : label;
}

/** Per-token table of one MoE layer. */
export function tokenTable(trace: RoutingTrace, l: LayerRouting): string[] {
  const lines = [`layer ${l.layer} (${l.kind})`];
  if (l.kind !== 'moe' || !l.experts || !l.weights) {
    return [...lines, '  dense layer: no routing'];
  }
  lines.push(`  ${'#'.padStart(5)}  ${'token'.padEnd(16)}  ${'experts (weight)'.padEnd(12 * trace.model.topK)}${l.sharedWeight ? '  shared' : ''}  surprisal`);
  for (let t = 0; t < trace.tokens.length; t++) {
    const chosen = l.experts[t].map((e, j) => `${e} (${fmt(l.weights![t][j])})`.padEnd(12)).join('');
    const shared = l.sharedWeight ? `  ${fmt(l.sharedWeight[t]).padStart(6)}` : '';
    lines.push(`  ${String(t).padStart(5)}  ${tokenLabel(trace, t).padEnd(16)}  ${chosen.padEnd(12 * trace.model.topK)}${shared}  ${fmt(trace.surprisal[t])}`);
  }
  return lines;
}

/** Share of routed slots per expert, busiest first, with how many experts got none. */
export function loadSummary(trace: RoutingTrace, l: LayerRouting): string {
  if (l.kind !== 'moe' || !l.experts) {
    return `  layer ${String(l.layer).padStart(3)}: dense`;
  }
  const E = trace.model.numExperts;
  const counts = new Array<number>(E).fill(0);
  l.experts.flat().forEach((e) => counts[e]++);
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  const ranked = counts.map((c, e) => [e, c]).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const top = ranked.slice(0, 6).map(([e, c]) => `${e}:${((100 * c) / total).toFixed(1)}%`).join(' ');
  const unused = counts.filter((c) => c === 0).length;
  const maxOverMean = (ranked[0][1] / total) * E;
  return `  layer ${String(l.layer).padStart(3)}: busiest ${top}  | max/mean load ${maxOverMean.toFixed(2)}  | unused ${unused}/${E}`;
}

export function renderAnalysis(trace: RoutingTrace, layer?: number): string {
  const m = trace.model;
  const shown = layer === undefined ? trace.layers.filter((l) => l.kind === 'moe') : trace.layers.filter((l) => l.layer === layer);
  if (layer !== undefined && shown.length === 0) {
    throw new CliError(`--layer ${layer}: the model has layers ${trace.layers.map((l) => l.layer).join(', ')}`, 2);
  }
  const known = trace.surprisal.filter((s): s is number => s !== null);
  const mean = known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  return [
    `model ${m.name} (${m.modelType}): ${m.numLayers} layers, ${m.numExperts} experts, top-${m.topK}; backend ${trace.backend}`,
    `gate: ${m.gateDescription}`,
    `${trace.tokens.length} tokens, mean surprisal ${fmt(mean)} nats`,
    '',
    ...shown.flatMap((l) => [...tokenTable(trace, l), '']),
    'expert load (share of routed slots):',
    ...trace.layers.map((l) => loadSummary(trace, l)),
  ].join('\n');
}

function readTraceFile(text: string): RoutingTrace | null {
  if (!text.trimStart().startsWith('{')) {
    return null;
  }
  try {
    const json = JSON.parse(text) as RoutingTrace;
    return json.schema === TRACE_SCHEMA ? json : null;
  } catch {
    return null;
  }
}

export const analyzeCommand: CliCommand = {
  name: 'analyze',
  summary: 'per-token routing table and expert load for a text file or a saved trace',
  usage,
  async run(argv) {
    const args = parseArgs(argv, ['model', 'layer', 'backend'], []);
    if (args.positional.length !== 1) {
      throw new CliError('give exactly one FILE to analyze', 2);
    }
    const layerText = stringFlag(args, 'layer');
    const layer = layerText === undefined ? undefined : Number(layerText);
    if (layer !== undefined && (!Number.isInteger(layer) || layer < 0)) {
      throw new CliError(`--layer must be a non-negative integer, got '${layerText}'`, 2);
    }
    const file = args.positional[0];
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
    }
    let trace = readTraceFile(text);
    if (!trace) {
      const dir = modelDirFrom(stringFlag(args, 'model'));
      const progress = stderrProgress('moe-lens');
      process.stderr.write(`moe-lens: loading ${dir}\n`);
      const model = await openModel(dir, stringFlag(args, 'backend'));
      try {
        const tokenizer = await loadTokenizer(dir);
        try {
          trace = await traceText(model, tokenizer, text, { onProgress: progress });
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
