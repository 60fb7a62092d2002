/**
 * @file Lays the analysed document out as the editor shows it: lines of pieces, each piece either
 * a token's text, text between tokens (gaps), a chip for a token with no place in the text
 * (BOS/EOS), or a window marker. Pure: no DOM, so it can be tested and built once per trace.
 */
import { visibleTokenText } from '../shared/tokenText';
import type { TraceToken, TraceWindow } from '../shared/trace';

/** Tokens per line when a trace has neither the document nor token texts. */
const TOKENS_PER_LINE = 16;

export type PieceKind = 'tok' | 'gap' | 'chip' | 'win';

export interface Piece {
  kind: PieceKind;
  /** The piece's text on this line (without the newline). For chips and markers, a label. */
  text: string;
  /** Token index for 'tok' and 'chip', window index for 'win', −1 for gaps. */
  index: number;
  /** A token's text continues past the end of this line (a newline inside the token). */
  endsLine?: boolean;
  /** First piece of its token (where the all-layers strip goes). */
  first?: boolean;
}

export interface Layout {
  lines: Piece[][];
  /** Line of each token's first piece. */
  tokenLine: Int32Array;
  /** Window of each token (−1 when the trace has no windows). */
  tokenWindow: Int32Array;
  /** The text the layout was made from (the document, or the tokens' texts joined). */
  text: string;
}

function windowLabel(w: TraceWindow, i: number, count: number): string {
  return `window ${i + 1}/${count} · tokens ${w.start}–${w.end - 1}` + (w.overlap ? ` · first ${w.overlap} context only` : '');
}

export function buildLayout(docText: string | null, tokens: readonly TraceToken[], windows?: readonly TraceWindow[]): Layout {
  const T = tokens.length;
  let text = docText;
  let spans: readonly { start: number | null; end: number | null }[] = tokens;
  if (text === null) {
    // Only ids and decoded texts: lay the decoded texts end to end.
    const parts: string[] = [];
    let at = 0;
    spans = tokens.map((t, i) => {
      // Neither a document nor token texts (an imported npy): each token shows as its id, or its index.
      const s = t.text ?? (t.id !== null ? ` #${t.id} ` : ` t${i} `);
      parts.push(s);
      at += s.length;
      const span = { start: at - s.length, end: at };
      if (t.text === null && i % TOKENS_PER_LINE === TOKENS_PER_LINE - 1) {
        // Labels have no line breaks of their own: wrap them, so the view stays one screen wide.
        parts.push('\n');
        at += 1;
      }
      return span;
    });
    text = parts.join('');
  }
  const tokenWindow = new Int32Array(T).fill(-1);
  const windowAt = new Map<number, number>();
  if (windows && windows.length > 1) {
    windows.forEach((w, wi) => {
      const own = wi === 0 ? w.start : w.start + w.overlap;
      for (let t = own; t < w.end && t < T; t++) {
        tokenWindow[t] = wi;
      }
      windowAt.set(Math.min(own, T), wi);
    });
  }

  const flat: Piece[] = [];
  let cursor = 0;
  for (let i = 0; i < T; i++) {
    const wi = windowAt.get(i);
    if (wi !== undefined && windows) {
      flat.push({ kind: 'win', text: windowLabel(windows[wi]!, wi, windows.length), index: wi });
    }
    const { start, end } = spans[i]!;
    if (start === null || end === null) {
      flat.push({ kind: 'chip', text: visibleTokenText(tokens[i]!.text, tokens[i]!.id), index: i });
      continue;
    }
    if (start > cursor) {
      flat.push({ kind: 'gap', text: text.slice(cursor, start), index: -1 });
    }
    const s = Math.max(start, cursor);
    if (end > s) {
      flat.push({ kind: 'tok', text: text.slice(s, end), index: i });
      cursor = end;
    } else {
      // A token sharing a split code point with its neighbour: nothing of its own to show.
      flat.push({ kind: 'chip', text: '', index: i });
    }
  }
  if (cursor < text.length) {
    flat.push({ kind: 'gap', text: text.slice(cursor), index: -1 });
  }

  const lines: Piece[][] = [[]];
  const tokenLine = new Int32Array(T).fill(-1);
  for (const p of flat) {
    if ((p.kind === 'tok' || p.kind === 'chip') && tokenLine[p.index] === -1) {
      tokenLine[p.index] = lines.length - 1;
      p.first = true;
    }
    if (p.kind === 'win' || p.kind === 'chip') {
      lines[lines.length - 1]!.push({ ...p, text: p.text.replace(/\n/g, '↵') });
      continue;
    }
    const parts = p.text.split('\n');
    parts.forEach((part, j) => {
      const last = j === parts.length - 1;
      // A token that is only a newline still gets an (empty) piece, so it can be seen and clicked.
      if (part !== '' || (j === 0 && p.kind === 'tok')) {
        const piece: Piece = { kind: p.kind, text: part, index: p.index };
        if (j === 0 && p.first) {
          piece.first = true;
        }
        if (!last) {
          piece.endsLine = true;
        }
        lines[lines.length - 1]!.push(piece);
      }
      if (!last) {
        lines.push([]);
      }
    });
  }
  return { lines, tokenLine, tokenWindow, text };
}
