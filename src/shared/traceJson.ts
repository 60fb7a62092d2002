/**
 * @file The `moe-lens.trace/1` JSON document written in pieces. A long trace (a 10k-token document
 * with logits) is larger than the biggest string V8 can hold, so the CLI and Export Routing Trace
 * write it piece by piece to a stream instead of building it whole. The pieces join to exactly
 * what JSON.stringify would give, with non-finite numbers as the strings "NaN", "Infinity",
 * "-Infinity". No node imports: the stream is passed in.
 */
import type { RoutingTrace } from './trace';

/** Pieces are gathered up to about this many characters before being handed on. */
const PIECE_CHARS = 64 * 1024;

/** JSON.stringify replacer: JSON has no NaN or Infinity, so they travel as strings. */
export function nonFiniteAsString(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  }
  return value;
}

const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null;
const skipped = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** A value without nested containers, or a row of numbers: JSON.stringify at once, re-indented to `indent`. */
function leaf(value: unknown, gap: string, indent: string): string {
  const text = JSON.stringify(value, nonFiniteAsString, gap);
  return gap && indent ? text.replace(/\n/g, '\n' + indent) : text;
}

function* pieces(value: unknown, gap: string, indent: string): Generator<string> {
  if (!isContainer(value) || (Array.isArray(value) && !value.some(isContainer))) {
    yield leaf(value, gap, indent);
    return;
  }
  const inner = indent + gap;
  const open = gap ? '\n' + inner : '';
  const sep = gap ? ',\n' + inner : ',';
  const close = gap ? '\n' + indent : '';
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    yield '[' + open;
    for (let i = 0; i < value.length; i++) {
      if (i > 0) {
        yield sep;
      }
      yield* skipped(value[i]) ? ['null'] : pieces(value[i], gap, inner);
    }
    yield close + ']';
    return;
  }
  const entries = Object.entries(value).filter(([, v]) => !skipped(v));
  if (entries.length === 0) {
    yield '{}';
    return;
  }
  yield '{' + open;
  for (let i = 0; i < entries.length; i++) {
    yield (i > 0 ? sep : '') + JSON.stringify(entries[i][0]) + (gap ? ': ' : ':');
    yield* pieces(entries[i][1], gap, inner);
  }
  yield close + '}';
}

/** The trace as JSON in pieces of about 64 K characters; `indent` as JSON.stringify's space argument. */
export function* traceJsonPieces(trace: RoutingTrace, indent?: number): Generator<string> {
  const gap = ' '.repeat(Math.max(0, Math.min(10, Math.floor(indent ?? 0))));
  let buffered: string[] = [];
  let size = 0;
  for (const piece of pieces(trace, gap, '')) {
    buffered.push(piece);
    size += piece.length;
    if (size >= PIECE_CHARS) {
      yield buffered.join('');
      buffered = [];
      size = 0;
    }
  }
  if (size > 0) {
    yield buffered.join('');
  }
}

/** What writeTraceJson needs of a Node writable; declared here because src/shared is also built for the webviews, which have no Node types. */
export interface TraceSink {
  write(chunk: string): boolean;
  once(event: 'drain' | 'error', listener: (err?: unknown) => void): unknown;
  removeListener(event: 'drain' | 'error', listener: (err?: unknown) => void): unknown;
}

/** Writes the trace to `out` piece by piece, waiting whenever the stream asks to; `out` is not ended. */
export async function writeTraceJson(trace: RoutingTrace, out: TraceSink, indent?: number): Promise<void> {
  for (const piece of traceJsonPieces(trace, indent)) {
    if (!out.write(piece)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: unknown): void => {
          out.removeListener('drain', done);
          out.removeListener('error', done);
          if (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          } else {
            resolve();
          }
        };
        out.once('drain', done);
        out.once('error', done);
      });
    }
  }
}
