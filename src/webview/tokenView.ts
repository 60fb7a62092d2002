/**
 * @file The routed-token view: the laid-out document drawn as spans, virtualised by blocks of
 * lines. Lines have a fixed height (no wrapping, as in the editor), so a block's position is
 * exact and only the blocks near the viewport exist in the DOM; 20,000 tokens scroll like 200.
 */
import { el } from './dom';
import type { Layout, Piece } from './tokenLayout';

// Small blocks keep each scroll step's work (making one block) well inside a frame.
const LINES_PER_BLOCK = 16;
/** Blocks kept above and below the viewport, so a quick scroll does not show blanks. */
const OVERSCAN = 2;

export interface TokenLook {
  /** CSS background of a token (top-1 colour plus top-k segments); made when its block is drawn. */
  background: (token: number) => string;
  /** CSS background of a token's all-layers strip, or null when the strip is off. */
  strip: ((token: number) => string) | null;
  /** Strip height in px. */
  stripHeight: number;
  /** Text colour of a token where its background needs one (the counterfactual effect scale). */
  foreground?: (token: number) => string;
  /** Extra classes of a token (`cf-none`: served by no expert; `cf-dropped`: lost an assignment). */
  marks?: (token: number) => string[];
}

export class TokenView {
  private layout: Layout | null = null;
  private look: TokenLook | null = null;
  private readonly blocks = new Map<number, HTMLElement>();
  private readonly space: HTMLElement;
  private lineHeight = 20;
  private textLineHeight = 20;
  private selected: number | null = null;
  private highlight: Uint8Array | null = null;
  private frame = 0;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly onSelect: (token: number) => void,
    private readonly describe: (token: number) => string,
  ) {
    this.space = el('div', 'tv-space');
    scroller.appendChild(this.space);
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(scroller);
    this.space.addEventListener('click', (e) => {
      const t = (e.target as HTMLElement).closest<HTMLElement>('[data-i]');
      if (t) {
        this.onSelect(Number(t.dataset.i));
      }
    });
    // Tooltips are made on demand: 20,000 title strings up front would cost more than the spans.
    this.space.addEventListener('mouseover', (e) => {
      const t = (e.target as HTMLElement).closest<HTMLElement>('[data-i]');
      if (t && !t.title) {
        t.title = this.describe(Number(t.dataset.i));
      }
    });
  }

  setData(layout: Layout, look: TokenLook, textLineHeight: number): void {
    this.layout = layout;
    this.textLineHeight = textLineHeight;
    this.setLook(look);
  }

  /** New colours or strip (layer change, theme change): redraw what is on screen. */
  setLook(look: TokenLook): void {
    this.look = look;
    this.lineHeight = this.textLineHeight + (look.strip ? look.stripHeight + 2 : 0);
    this.space.style.setProperty('--lh', `${this.textLineHeight}px`);
    this.space.style.setProperty('--row', `${this.lineHeight}px`);
    this.space.style.setProperty('--strip', `${look.stripHeight}px`);
    this.space.classList.toggle('with-strip', look.strip !== null);
    this.space.style.height = `${(this.layout?.lines.length ?? 0) * this.lineHeight}px`;
    this.clear();
    this.update();
  }

  setSelected(token: number | null, reveal: boolean): void {
    this.selected = token;
    for (const s of this.space.querySelectorAll('.sel')) {
      s.classList.remove('sel');
    }
    if (token === null || !this.layout) {
      return;
    }
    for (const s of this.space.querySelectorAll(`[data-i="${token}"]`)) {
      s.classList.add('sel');
    }
    const line = this.layout.tokenLine[token] ?? -1;
    if (reveal && line >= 0) {
      const top = line * this.lineHeight;
      const view = this.scroller;
      if (top < view.scrollTop || top + this.lineHeight > view.scrollTop + view.clientHeight) {
        view.scrollTop = Math.max(0, top - view.clientHeight / 2);
      }
      this.update();
    }
  }

  /** Tokens to emphasise (1) among dimmed others, or null for none. */
  setHighlight(mask: Uint8Array | null): void {
    if (mask === null && this.highlight === null) {
      return;
    }
    this.highlight = mask;
    this.space.classList.toggle('dim', mask !== null);
    this.clear();
    this.update();
  }

  scrollTo(top: number): void {
    this.scroller.scrollTop = top;
    this.update();
  }

  private schedule(): void {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.update();
      });
    }
  }

  private clear(): void {
    for (const b of this.blocks.values()) {
      b.remove();
    }
    this.blocks.clear();
  }

  /** Make the blocks that intersect the viewport (plus overscan), drop the rest. */
  private update(): void {
    if (!this.layout || !this.look) {
      return;
    }
    const blockHeight = LINES_PER_BLOCK * this.lineHeight;
    const count = Math.ceil(this.layout.lines.length / LINES_PER_BLOCK);
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 800;
    const first = Math.max(0, Math.floor(top / blockHeight) - OVERSCAN);
    const last = Math.min(count - 1, Math.floor((top + height) / blockHeight) + OVERSCAN);
    for (const [i, b] of this.blocks) {
      if (i < first || i > last) {
        b.remove();
        this.blocks.delete(i);
      }
    }
    for (let i = first; i <= last; i++) {
      if (!this.blocks.has(i)) {
        const b = this.renderBlock(i);
        this.blocks.set(i, b);
        this.space.appendChild(b);
      }
    }
  }

  private renderBlock(index: number): HTMLElement {
    const layout = this.layout!;
    const look = this.look!;
    const block = el('div', 'tv-block');
    block.style.top = `${index * LINES_PER_BLOCK * this.lineHeight}px`;
    const end = Math.min(layout.lines.length, (index + 1) * LINES_PER_BLOCK);
    for (let l = index * LINES_PER_BLOCK; l < end; l++) {
      const line = el('div', 'tv-line');
      for (const p of layout.lines[l]!) {
        line.appendChild(this.renderPiece(p, look));
      }
      block.appendChild(line);
    }
    return block;
  }

  private renderPiece(p: Piece, look: TokenLook): HTMLElement {
    if (p.kind === 'gap') {
      return el('span', 'gap', p.text);
    }
    if (p.kind === 'win') {
      return el('span', 'win', p.text);
    }
    const s = el('span', p.kind === 'chip' ? 'tok chip' : 'tok', p.text);
    s.dataset.i = String(p.index);
    s.style.background = look.background(p.index);
    const fg = look.foreground?.(p.index);
    if (fg) {
      s.style.color = fg;
    }
    for (const m of look.marks?.(p.index) ?? []) {
      s.classList.add(m);
    }
    if (p.endsLine) {
      // The ↵ comes from CSS on an empty element, so it is seen but is not part of the token's text.
      s.appendChild(el('span', 'nl'));
    }
    if (this.selected === p.index) {
      s.classList.add('sel');
    }
    if (this.highlight?.[p.index]) {
      s.classList.add('hl');
    }
    if (look.strip) {
      const strip = el('span', 'strip');
      if (p.first) {
        strip.style.background = look.strip(p.index);
      }
      s.appendChild(strip);
    }
    return s;
  }
}
