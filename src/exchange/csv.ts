/**
 * @file A trace as CSV and back: one row per (token, MoE layer, rank),
 * `token,start,end,text,layer,rank,expert,weight,score` (RFC 4180: CRLF, fields with a comma, quote,
 * CR or LF quoted, quotes doubled). `token` is the token's index in the trace; `start`/`end` are empty
 * for a token without a span, `weight`/`score` empty where the trace has none.
 *
 * Formula-injection guard: a text cell starting with = + - @ (or tab / CR) is written with a leading
 * `'` so spreadsheets show it instead of running it; a text starting with `'` gets one too, so the
 * importer can always remove exactly one and get the text back. Numeric cells are written as plain
 * numbers (a negative weight stays `-0.5`): a spreadsheet reads those as numbers, never as formulas,
 * and quoting them would break the numbers for every other reader. Numbers are JavaScript's shortest
 * round-trip form, non-finite ones NaN / Infinity / -Infinity, so import gives back the same doubles.
 */
import { TRACE_LIMITS } from '../shared/traceCheck';
import type { RoutingTrace, TraceToken } from '../shared/trace';
import { assembleImported, expertCount, importFail, importedLayer, parseNumber, unknownModel } from './importedTrace';
import { routedTable } from './routedTable';

export const CSV_HEADER = 'token,start,end,text,layer,rank,expert,weight,score';
const COLUMNS = CSV_HEADER.split(',');

const FORMULA_START = /^[=+\-@\t\r']/;

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** A text cell, guarded against formula injection (see the file comment), then quoted if needed. */
export function textCell(text: string): string {
  return quote(FORMULA_START.test(text) ? `'${text}` : text);
}

function numberCell(x: number | null | undefined): string {
  return x === null || x === undefined ? '' : String(x);
}

export function traceToCsv(trace: RoutingTrace): string {
  const { layers } = routedTable(trace);
  const lines = [CSV_HEADER];
  trace.tokens.forEach((tok, t) => {
    const text = tok.text === null ? '' : textCell(tok.text);
    for (const l of layers) {
      l.experts[t].forEach((e, r) => {
        const score = l.scores ? l.scores[t][e] : null;
        lines.push([t, numberCell(tok.start), numberCell(tok.end), text, l.layer, r, e, numberCell(l.weights?.[t][r]), numberCell(score)].join(','));
      });
    }
  });
  return lines.join('\r\n') + '\r\n';
}

/** RFC 4180 records; throws on a stray quote or an unterminated quoted field. */
function* records(text: string): Generator<{ cells: string[]; line: number }> {
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const cells: string[] = [];
    const startLine = line;
    for (;;) {
      let cell = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) {
            importFail(`CSV line ${startLine}: a quoted field is not closed`);
          }
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (text[i] === '\n') {
            line++;
          }
          cell += text[i++];
        }
        if (i < n && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
          importFail(`CSV line ${line}: text after a closing quote`);
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
          if (text[i] === '"') {
            importFail(`CSV line ${line}: a quote inside an unquoted field`);
          }
          i++;
        }
        cell = text.slice(start, i);
      }
      cells.push(cell);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') {
      i++;
      if (text[i] !== '\n') {
        importFail(`CSV line ${line}: a CR not followed by LF`);
      }
    }
    if (text[i] === '\n') {
      i++;
    }
    yield { cells, line: startLine };
    line++;
  }
}

function intCell(s: string, min: number, max: number, what: string, line: number): number {
  const x = /^-?\d{1,16}$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    importFail(`CSV line ${line}: ${what} must be an integer in ${min}..${max}`);
  }
  return x;
}

function optionalNumber(s: string, what: string, line: number): number | null {
  if (s === '') {
    return null;
  }
  const x = parseNumber(s);
  if (x === undefined) {
    importFail(`CSV line ${line}: ${what} is not a number`);
  }
  return x;
}

interface TokenRows {
  tok: TraceToken;
  /** Per layer in file order: experts and weights by rank. */
  layers: { layer: number; experts: number[]; weights: (number | null)[] }[];
}

export interface CsvImportOptions {
  experts?: number;
}

export function csvToTrace(text: string, file: string, opts: CsvImportOptions = {}): RoutingTrace {
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1); // spreadsheets write a BOM
  }
  const tokens: TokenRows[] = [];
  let header = true;
  let maxExpert = -1;
  for (const { cells, line } of records(text)) {
    if (header) {
      if (cells.join(',') !== CSV_HEADER) {
        importFail(`CSV line 1: the header must be exactly ${CSV_HEADER}`);
      }
      header = false;
      continue;
    }
    if (cells.length !== COLUMNS.length) {
      importFail(`CSV line ${line}: ${cells.length} fields, expected ${COLUMNS.length}`);
    }
    const [tokenS, startS, endS, textS, layerS, rankS, expertS, weightS, scoreS] = cells;
    const t = intCell(tokenS, 0, TRACE_LIMITS.tokens - 1, 'token', line);
    if (t !== tokens.length - 1 && t !== tokens.length) {
      importFail(`CSV line ${line}: token ${t} out of order (rows must go token by token from 0)`);
    }
    if ((startS === '') !== (endS === '')) {
      importFail(`CSV line ${line}: start and end must both be given or both be empty`);
    }
    const start = startS === '' ? null : intCell(startS, 0, Number.MAX_SAFE_INTEGER, 'start', line);
    const end = endS === '' ? null : intCell(endS, start ?? 0, Number.MAX_SAFE_INTEGER, 'end (≥ start)', line);
    const tokText = textS === '' ? null : textS.startsWith("'") ? textS.slice(1) : textS;
    const layer = intCell(layerS, 0, TRACE_LIMITS.layers, 'layer', line);
    const rank = intCell(rankS, 0, TRACE_LIMITS.experts - 1, 'rank', line);
    const expert = intCell(expertS, 0, TRACE_LIMITS.experts - 1, 'expert', line);
    const weight = optionalNumber(weightS, 'weight', line);
    optionalNumber(scoreS, 'score', line); // one score per chosen expert cannot fill scores [T][E]: checked, not kept
    maxExpert = Math.max(maxExpert, expert);
    if (t === tokens.length) {
      tokens.push({ tok: { id: null, text: tokText, start, end }, layers: [] });
    }
    const rows = tokens[t];
    if (rows.tok.start !== start || rows.tok.end !== end || rows.tok.text !== tokText) {
      importFail(`CSV line ${line}: token ${t}'s start, end or text differ from its first row`);
    }
    let last = rows.layers[rows.layers.length - 1];
    if (!last || last.layer !== layer) {
      if (last && layer <= last.layer) {
        importFail(`CSV line ${line}: layer ${layer} out of order for token ${t} (ascending, each once)`);
      }
      last = { layer, experts: [], weights: [] };
      rows.layers.push(last);
    }
    if (rank !== last.experts.length) {
      importFail(`CSV line ${line}: rank ${rank} out of order (ranks go 0, 1, … within a token and layer)`);
    }
    if (last.experts.includes(expert)) {
      importFail(`CSV line ${line}: expert ${expert} listed twice for token ${t} in layer ${layer}`);
    }
    last.experts.push(expert);
    last.weights.push(weight);
  }
  if (header) {
    importFail('the CSV file is empty (no header)');
  }
  if (tokens.length === 0) {
    importFail('the CSV file has a header but no rows');
  }
  const layerNums = tokens[0].layers.map((l) => l.layer);
  tokens.forEach((r, t) => {
    if (r.layers.length !== layerNums.length || r.layers.some((l, i) => l.layer !== layerNums[i])) {
      importFail(`CSV: token ${t} lists layers ${r.layers.map((l) => l.layer).join(' ')}, token 0 lists ${layerNums.join(' ')}`);
    }
  });
  const E = expertCount(opts.experts, maxExpert);
  let k = 0;
  const layers = layerNums.map((n, i) => {
    const experts = tokens.map((r) => r.layers[i].experts);
    const weightRows = tokens.map((r) => r.layers[i].weights);
    const anyWeight = weightRows.some((row) => row.some((w) => w !== null));
    if (anyWeight && weightRows.some((row) => row.some((w) => w === null))) {
      importFail(`CSV: layer ${n} has weights for some rows and not others`);
    }
    experts.forEach((row) => (k = Math.max(k, row.length)));
    if (k > E) {
      importFail(`CSV: a token lists ${k} experts in layer ${n}, more than the ${E} experts`);
    }
    return importedLayer(n, experts, anyWeight ? (weightRows as number[][]) : null);
  });
  return assembleImported(unknownModel(file, 'CSV', layerNums, E, k), tokens.map((r) => r.tok), layers);
}
