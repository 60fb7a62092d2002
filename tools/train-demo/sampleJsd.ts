/**
 * @file How differently a model colours the `npm start` sample's code and prose: per MoE layer, the
 * Jensen–Shannon divergence (bits) between the top-1 expert counts of the tokens inside ``` fences and of
 * the rest (whitespace-only tokens show no colour, so they are left out). Shared by tools/demo-stats.ts
 * (the model card) and test/unit/demo/demoSpecialisation.test.ts (the guard).
 */
import type { Model } from '../../src/engine/model';
import type { DocumentTokenizer } from '../../src/engine/tokenizer/tokenizer';

/** Jensen–Shannon divergence in bits between two count vectors (0 = same distribution, 1 = disjoint). */
export function jsdBits(p: number[], q: number[]): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  let d = 0;
  p.forEach((pi, i) => {
    const a = pi / sp;
    const b = q[i] / sq;
    const m = (a + b) / 2;
    if (a > 0) d += 0.5 * a * Math.log2(a / m);
    if (b > 0) d += 0.5 * b * Math.log2(b / m);
  });
  return d;
}

/** [start, end) of the text inside ``` fences. */
export function codeRanges(text: string): [number, number][] {
  const out: [number, number][] = [];
  const fence = /^```.*$/gm;
  let open: number | null = null;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    if (open === null) {
      open = m.index + m[0].length;
    } else {
      out.push([open, m.index]);
      open = null;
    }
  }
  return out;
}

export interface SampleJsd {
  /** Checkpoint layer number of each MoE layer, aligned with `bits`. */
  layers: number[];
  bits: number[];
  codeTokens: number;
  proseTokens: number;
}

export async function sampleCodeProseJsd(model: Model, tok: DocumentTokenizer, text: string): Promise<SampleJsd> {
  const code = codeRanges(text);
  const tokens = await tok.encode(text, { addSpecialTokens: false });
  const run = await model.run(tokens.map((t) => t.id));
  const E = model.info.numExperts;
  let codeTokens = 0;
  let proseTokens = 0;
  const bits = model.info.moeLayers.map((layerNumber, li) => {
    const layer = run.layers.find((l) => l.layer === layerNumber)!;
    const counts = { code: new Array<number>(E).fill(0), prose: new Array<number>(E).fill(0) };
    tokens.forEach((t, i) => {
      if (t.start === null || text.slice(t.start, t.end ?? t.start).trim() === '') return;
      const scores = layer.scores![i];
      const top1 = scores.indexOf(Math.max(...scores));
      const inCode = code.some(([a, b]) => t.start! >= a && t.start! < b);
      counts[inCode ? 'code' : 'prose'][top1]++;
      if (li === 0) {
        if (inCode) codeTokens++;
        else proseTokens++;
      }
    });
    return jsdBits(counts.code, counts.prose);
  });
  return { layers: model.info.moeLayers, bits, codeTokens, proseTokens };
}
