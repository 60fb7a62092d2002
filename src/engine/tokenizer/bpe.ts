/**
 * @file BPE exactly as Rust `tokenizers` (models/bpe: merge_word + Word::merge_all), on integer ids.
 *
 * The JS port's BPE keys every pair lookup by JSON.stringify and allocates an object per symbol,
 * which is fine for words but takes minutes on a tokenizer without a pre-tokenizer (Llama 2 /
 * Mixtral hand the whole document to BPE as one word). This one keeps symbols in typed arrays and
 * the merge queue in a binary heap ordered as Rust orders it: lowest rank, then leftmost position.
 */

type Json = Record<string, unknown>;

const PAIR = 1 << 20; // ids stay below 2^20, so a*PAIR+b is an exact double key

export class BpeModel {
  private readonly vocab: Map<string, number>;
  /** pair key → rank * PAIR + new id (both < 2^20 for every real vocabulary) */
  private readonly merges = new Map<number, number>();
  private readonly unkId: number | null;
  private readonly byteFallback: boolean;
  private readonly fuseUnk: boolean;
  private readonly ignoreMerges: boolean;
  private readonly prefix: string | null;
  private readonly suffix: string | null;
  private readonly byteIds: Int32Array | null;
  private cache = new Map<string, Int32Array>();

  constructor(model: Json, vocab: Map<string, number>) {
    this.vocab = vocab;
    for (const id of vocab.values()) {
      if (id >= PAIR || id < 0) {throw new Error(`token id ${id} is out of range`);}
    }
    this.prefix = typeof model.continuing_subword_prefix === 'string' && model.continuing_subword_prefix !== '' ? model.continuing_subword_prefix : null;
    this.suffix = typeof model.end_of_word_suffix === 'string' && model.end_of_word_suffix !== '' ? model.end_of_word_suffix : null;
    const prefixLen = this.prefix?.length ?? 0;
    const merges = model.merges as unknown[];
    merges.forEach((m, rank) => {
      let a: string;
      let b: string;
      if (typeof m === 'string') {
        const space = m.indexOf(' ');
        if (space < 0) {throw new Error(`merge ${rank} ('${m}') is not two tokens separated by a space`);}
        a = m.slice(0, space);
        b = m.slice(space + 1);
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
        [a, b] = m as [string, string];
      } else {
        throw new Error(`merge ${rank} is malformed: ${JSON.stringify(m).slice(0, 80)}`);
      }
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const merged = vocab.get(a + b.slice(prefixLen));
      if (ia === undefined || ib === undefined || merged === undefined) {
        throw new Error(`merge ${rank} ('${a}', '${b}') uses a token missing from the vocab`);
      }
      if (rank >= PAIR) { throw new Error('too many merges'); }
      // Later duplicates overwrite earlier ones, as Rust's HashMap collect does.
      this.merges.set(ia * PAIR + ib, rank * PAIR + merged);
    });
    const unk = typeof model.unk_token === 'string' ? model.unk_token : null;
    this.unkId = unk !== null ? (vocab.get(unk) ?? null) : null;
    if (unk !== null && this.unkId === null) {throw new Error(`unk_token '${unk}' is not in the vocab`);}
    this.byteFallback = model.byte_fallback === true;
    this.fuseUnk = model.fuse_unk === true;
    this.ignoreMerges = model.ignore_merges === true;
    if (this.byteFallback) {
      this.byteIds = new Int32Array(256).fill(-1);
      for (let b = 0; b < 256; b++) {
        this.byteIds[b] = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? -1;
      }
    } else {
      this.byteIds = null;
    }
  }

  /** Appends the ids of one pre-tokenized word. */
  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) { return; }
    if (this.ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    const cacheable = word.length < 256;
    if (cacheable) {
      const hit = this.cache.get(word);
      if (hit) {
        for (let i = 0; i < hit.length; i++) { out.push(hit[i]); }
        return;
      }
    }
    const ids = this.mergeWord(word);
    if (cacheable) {
      if (this.cache.size >= 50_000) { this.cache = new Map(); }
      this.cache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) { out.push(ids[i]); }
  }

  private initialSymbols(word: string): number[] {
    const syms: number[] = [];
    let unkPending = false;
    const enc = this.byteFallback ? new TextEncoder() : null;
    for (let i = 0; i < word.length; ) {
      const cp = word.codePointAt(i)!;
      const n = cp > 0xffff ? 2 : 1;
      let s = word.slice(i, i + n);
      const isFirst = i === 0;
      i += n;
      if (!isFirst && this.prefix) { s = this.prefix + s; }
      if (i >= word.length && this.suffix) { s = s + this.suffix; }
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unkPending) {
          syms.push(this.unkId!);
          unkPending = false;
        }
        syms.push(id);
        continue;
      }
      if (enc && this.byteIds) {
        const bytes = enc.encode(s);
        let ok = true;
        for (const b of bytes) {if (this.byteIds[b] < 0) { ok = false; }}
        if (ok) {
          for (const b of bytes) { syms.push(this.byteIds[b]); }
          continue;
        }
      }
      if (this.unkId !== null) {
        if (unkPending && !this.fuseUnk) { syms.push(this.unkId); }
        unkPending = true;
      }
    }
    if (unkPending) { syms.push(this.unkId!); }
    return syms;
  }

  /** Word::merge_all: pop (lowest rank, leftmost), skip stale entries, merge, queue the new neighbours. */
  private mergeWord(word: string): Int32Array {
    const init = this.initialSymbols(word);
    const n = init.length;
    if (n < 2) { return Int32Array.from(init); }
    const c = Int32Array.from(init);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new MergeHeap(n);
    for (let i = 0; i + 1 < n; i++) {
      const m = this.merges.get(c[i] * PAIR + c[i + 1]);
      if (m !== undefined) { heap.push(Math.floor(m / PAIR), i, m % PAIR); }
    }
    while (heap.size > 0) {
      const rank = heap.topRank();
      const pos = heap.topPos();
      const newId = heap.topNew();
      heap.pop();
      if (!alive[pos]) { continue; }
      const right = next[pos];
      if (right < 0) { continue; }
      const m = this.merges.get(c[pos] * PAIR + c[right]);
      if (m === undefined || m % PAIR !== newId || Math.floor(m / PAIR) !== rank) { continue; }
      c[pos] = newId;
      alive[right] = 0;
      const after = next[right];
      next[pos] = after;
      if (after >= 0) { prev[after] = pos; }
      const before = prev[pos];
      if (before >= 0) {
        const mp = this.merges.get(c[before] * PAIR + newId);
        if (mp !== undefined) { heap.push(Math.floor(mp / PAIR), before, mp % PAIR); }
      }
      if (after >= 0) {
        const mn = this.merges.get(newId * PAIR + c[after]);
        if (mn !== undefined) { heap.push(Math.floor(mn / PAIR), pos, mn % PAIR); }
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) { out.push(c[i]); }
    return Int32Array.from(out);
  }
}

const POS = 2 ** 32; // heap key rank*POS+pos: exact in a double for rank < 2^20 and any position

/** Min-heap of (rank, pos, newId) ordered by rank then pos, in typed arrays. */
class MergeHeap {
  private key: Float64Array;
  private nid: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.key = new Float64Array(Math.max(16, capacity * 2));
    this.nid = new Int32Array(this.key.length);
  }

  topRank(): number {
    return Math.floor(this.key[0] / POS);
  }
  topPos(): number {
    return this.key[0] % POS;
  }
  topNew(): number {
    return this.nid[0];
  }

  push(rank: number, pos: number, newId: number): void {
    if (this.size === this.key.length) {
      const k = new Float64Array(this.key.length * 2);
      k.set(this.key);
      const v = new Int32Array(k.length);
      v.set(this.nid);
      this.key = k;
      this.nid = v;
    }
    const key = rank * POS + pos;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.key[parent] <= key) { break; }
      this.key[i] = this.key[parent];
      this.nid[i] = this.nid[parent];
      i = parent;
    }
    this.key[i] = key;
    this.nid[i] = newId;
  }

  pop(): void {
    const last = --this.size;
    if (last <= 0) { return; }
    const key = this.key[last];
    const v = this.nid[last];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) { break; }
      if (child + 1 < last && this.key[child + 1] < this.key[child]) { child++; }
      if (this.key[child] >= key) { break; }
      this.key[i] = this.key[child];
      this.nid[i] = this.nid[child];
      i = child;
    }
    this.key[i] = key;
    this.nid[i] = v;
  }
}
