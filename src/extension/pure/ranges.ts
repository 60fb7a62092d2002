/**
 * @file Token spans ↔ editor positions. Spans are UTF-16 offsets into the analysed text (the
 * same units as VS Code positions); lines end at \n, \r\n or \r. An offset between \r and \n
 * maps to the end of its line, as VS Code does. Also shifts spans through edits so highlights
 * follow typing until the next analysis arrives.
 */
import type { TraceToken } from '../../shared/trace';

export interface Pos {
  line: number;
  character: number;
}

export class LineIndex {
  /** Offset where each line starts. */
  private readonly starts: number[] = [0];
  /** Offset where each line's content ends (before its line break). */
  private readonly ends: number[] = [];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        this.ends.push(i);
        if (c === 13 && text.charCodeAt(i + 1) === 10) {
          i++;
        }
        this.starts.push(i + 1);
      }
    }
    this.ends.push(text.length);
  }

  get lineCount(): number {
    return this.starts.length;
  }

  positionAt(offset: number): Pos {
    const off = Math.min(Math.max(0, offset), this.text.length);
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= off) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return { line: lo, character: Math.min(off, this.ends[lo]) - this.starts[lo] };
  }

  offsetAt(pos: Pos): number {
    if (pos.line < 0) {
      return 0;
    }
    if (pos.line >= this.starts.length) {
      return this.text.length;
    }
    return this.starts[pos.line] + Math.min(Math.max(0, pos.character), this.ends[pos.line] - this.starts[pos.line]);
  }
}

/** One text change as VS Code reports it: offsets in the text before the change. */
export interface TextChange {
  offset: number;
  length: number;
  textLength: number;
}

/**
 * Token spans of an analysis, searchable by offset. Tokens without a span (BOS/EOS) and tokens
 * an edit has touched hold -1.
 */
export class SpanIndex {
  /** Token indices with a span, by start offset. */
  private readonly order: number[];

  private constructor(
    readonly starts: Int32Array,
    readonly ends: Int32Array,
  ) {
    this.order = [];
    for (let i = 0; i < starts.length; i++) {
      if (starts[i] >= 0) {
        this.order.push(i);
      }
    }
    this.order.sort((a, b) => starts[a] - starts[b] || a - b);
  }

  static fromTokens(tokens: readonly TraceToken[]): SpanIndex {
    const starts = new Int32Array(tokens.length).fill(-1);
    const ends = new Int32Array(tokens.length).fill(-1);
    tokens.forEach((t, i) => {
      if (t.start !== null && t.end !== null && t.end > t.start) {
        starts[i] = t.start;
        ends[i] = t.end;
      }
    });
    return new SpanIndex(starts, ends);
  }

  get size(): number {
    return this.starts.length;
  }

  /** Tokens that still have a span, in document order. */
  visible(): readonly number[] {
    return this.order;
  }

  /** The token whose span contains `offset` (start ≤ offset < end), or -1. */
  tokenAt(offset: number): number {
    const { order, starts, ends } = this;
    // Last token starting at or before offset; overlapping (partial) tokens: scan back a little.
    let lo = 0;
    let hi = order.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[order[mid]] <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    for (let j = found; j >= 0 && j > found - 4; j--) {
      const t = order[j];
      if (offset < ends[t]) {
        // Prefer the earliest token covering the offset among overlapping partial tokens.
        let first = t;
        for (let q = j - 1; q >= 0 && q > j - 4; q--) {
          if (ends[order[q]] > offset && starts[order[q]] <= offset) {
            first = order[q];
          }
        }
        return first;
      }
    }
    return -1;
  }

  /**
   * The token an editor selection points at, from its offsets `anchor` and `active`. A range
   * selection maps by its START (selecting " gate" from a panel puts the caret at its end, which
   * is where the next token starts). An empty selection maps to the token starting at the caret,
   * else the one containing it, else the one ending at it (caret after the last word). -1 if none.
   */
  tokenForSelection(anchor: number, active: number): number {
    const start = Math.min(anchor, active);
    const end = Math.max(anchor, active);
    const t = this.tokenAt(start);
    if (t >= 0) {
      return t;
    }
    if (start === end) {
      return start > 0 ? this.tokenAt(start - 1) : -1;
    }
    // The start is in a gap between spans: the first token that begins inside the selection.
    for (const i of this.order) {
      if (this.starts[i] >= end) {
        break;
      }
      if (this.starts[i] >= start) {
        return i;
      }
    }
    return -1;
  }

  /**
   * The spans after `changes` (all relative to the text before them, non-overlapping, as one
   * VS Code change event gives them): later spans shift, spans an edit touches are dropped.
   */
  applyChanges(changes: readonly TextChange[]): SpanIndex {
    const sorted = [...changes].sort((a, b) => a.offset - b.offset);
    const starts = new Int32Array(this.starts);
    const ends = new Int32Array(this.ends);
    for (let i = 0; i < starts.length; i++) {
      const s = this.starts[i];
      const e = this.ends[i];
      if (s < 0) {
        continue;
      }
      let delta = 0;
      let touched = false;
      for (const c of sorted) {
        const cEnd = c.offset + c.length;
        if (cEnd <= s) {
          // Entirely before the token (an insertion at its start also pushes it right).
          delta += c.textLength - c.length;
        } else if (c.offset >= e) {
          break;
        } else {
          touched = true;
          break;
        }
      }
      if (touched) {
        starts[i] = -1;
        ends[i] = -1;
      } else {
        starts[i] = s + delta;
        ends[i] = e + delta;
      }
    }
    return new SpanIndex(starts, ends);
  }
}
