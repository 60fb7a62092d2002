/**
 * @file Specialisation of the demo model, measured by OUR engine from the shipped weights (not by the
 * training script): per MoE layer, the Jensen–Shannon divergence between expert-load distributions on
 * held-out code, prose, Markdown and JSON/YAML/TOML (every pair), each expert's most frequent and most
 * characteristic tokens, and balance (Switch aux loss E·Σ f_i·P_i, max/mean and min/mean load); plus held-out
 * surprisal and the mean shared-expert gate; and the top-1 JSD between code and prose on the `npm start` sample
 * (test/e2e/workspace/sample.md), the colours a user sees first. Held-out documents come from tools/train-demo/work/v2/heldout.jsonl
 * (built by corpus2.py).
 *
 *   npx tsx tools/demo-stats.ts [--model models/demo] [--tokens 4000] [--out tools/train-demo/work/v2/stats] [--svg F]
 * Writes OUT.json and OUT.md (markdown tables for MODEL_CARD.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../src/engine/model';
import { loadTokenizer } from '../src/engine/tokenizer/tokenizer';
import { jsdBits, sampleCodeProseJsd } from './train-demo/sampleJsd';

type Kind = 'code' | 'prose' | 'markdown' | 'json';
interface Doc { source: string; kind: Kind; name: string; split: string; text: string }

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROOT = path.resolve(__dirname, '..');
const modelDir = path.resolve(arg('model', path.join(ROOT, 'models', 'demo')));
const perSource = Number(arg('tokens', '4000')); // held-out tokens per source
const out = arg('out', path.join(ROOT, 'tools', 'train-demo', 'work', 'v2', 'stats'));
const svgPath = arg('svg', '');
const WINDOW = 512;
const SOURCES: Record<string, Kind> = {
  js: 'code', dts: 'code', py: 'code', pydoc: 'prose', handbook: 'prose', fortune: 'prose', md: 'markdown', data: 'json',
};
const KINDS: Kind[] = ['code', 'prose', 'markdown', 'json'];
/** Every pair of kinds, code‖prose first (the one the card's target is about). */
const PAIRS: [Kind, Kind][] = [['code', 'prose'], ['markdown', 'json'], ['code', 'markdown'], ['code', 'json'], ['prose', 'markdown'], ['prose', 'json']];

function show(s: string): string {
  // Visible whitespace; no backticks or pipes that would break a markdown table cell.
  return s.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/`/g, 'ˋ').replace(/\|/g, '¦')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Layers × experts grid: colour = share of the expert's held-out load that is code (blue) vs prose (orange), label = load %. */
function svg(layers: { layer: number; jsdBits: number; experts: { load: number; codeShare: number }[] }[], E: number): string {
  const cw = 44;
  const ch = 34;
  const left = 150;
  const top = 40;
  const W = left + E * cw + 20;
  const H = top + layers.length * ch + 60;
  const mix = (c: number): string => {
    const code = [49, 120, 198];
    const prose = [230, 126, 34];
    return `rgb(${code.map((v, i) => Math.round(v * c + prose[i] * (1 - c))).join(',')})`;
  };
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">Expert load on held-out text: blue = mostly code, orange = mostly prose</text>`];
  for (let e = 0; e < E; e++) parts.push(`<text x="${left + e * cw + cw / 2}" y="${top - 4}" text-anchor="middle">${e}</text>`);
  layers.forEach((l, r) => {
    const y = top + r * ch;
    parts.push(`<text x="8" y="${y + ch / 2 + 4}">layer ${l.layer} (JSD ${l.jsdBits.toFixed(3)})</text>`);
    l.experts.forEach((x, e) => {
      parts.push(`<rect x="${left + e * cw}" y="${y}" width="${cw - 2}" height="${ch - 2}" fill="${mix(x.codeShare)}"/>`);
      parts.push(`<text x="${left + e * cw + cw / 2 - 1}" y="${y + ch / 2 + 4}" text-anchor="middle" fill="white">${(100 * x.load).toFixed(0)}%</text>`);
    });
  });
  parts.push(`<text x="${left}" y="${H - 20}">cell label: the expert's share of all top-k assignments in that layer (uniform = ${(100 / E).toFixed(1)}%)</text>`, '</svg>');
  return parts.join('\n') + '\n';
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const docs = readFileSync(path.join(ROOT, 'tools', 'train-demo', 'work', 'v2', 'heldout.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc).filter((d) => d.split === 'eval');
  const tok = await loadTokenizer(modelDir);
  const model = await loadModel(modelDir);
  const E = model.info.numExperts;
  const moeLayers = model.info.moeLayers;
  const init = (): number[][] => moeLayers.map(() => new Array<number>(E).fill(0));
  const load = Object.fromEntries(KINDS.map((k) => [k, init()])) as Record<Kind, number[][]>; // top-k assignment counts
  const load1 = Object.fromEntries(KINDS.map((k) => [k, init()])) as Record<Kind, number[][]>; // top-1 (the colour) counts
  const prob = init(); // Σ router probability, all tokens
  const shared = moeLayers.map(() => 0);
  const tokenCount: Map<number, number>[][] = moeLayers.map(() => Array.from({ length: E }, () => new Map<number, number>()));
  const totalTok = new Map<number, number>();
  const surprisal: Record<string, { sum: number; n: number }> = {};
  let nTok = 0;
  for (const [source, kind] of Object.entries(SOURCES)) {
    let got = 0;
    surprisal[source] = { sum: 0, n: 0 };
    for (const d of docs.filter((x) => x.source === source)) {
      if (got >= perSource) break;
      const ids = (await tok.encode(d.text, { addSpecialTokens: false })).map((t) => t.id);
      for (let s = 0; s < ids.length && got < perSource; s += WINDOW) {
        const w = ids.slice(s, s + WINDOW);
        if (w.length < 16) break;
        const r = await model.run(w);
        for (const x of r.surprisal) {
          if (x !== null) {
            surprisal[source].sum += x;
            surprisal[source].n++;
          }
        }
        moeLayers.forEach((layer, li) => {
          const L = r.layers.find((l) => l.layer === layer)!;
          L.experts!.forEach((ex, t) => {
            for (const e of ex) {
              load[kind][li][e]++;
              const m = tokenCount[li][e];
              m.set(w[t], (m.get(w[t]) ?? 0) + 1);
            }
            const scores = L.scores![t];
            load1[kind][li][scores.indexOf(Math.max(...scores))]++;
            scores.forEach((p, e) => (prob[li][e] += p));
            shared[li] += L.sharedWeight ? L.sharedWeight[t] : 0;
          });
        });
        for (const id of w) totalTok.set(id, (totalTok.get(id) ?? 0) + 1);
        got += w.length;
        nTok += w.length;
      }
    }
    process.stderr.write(`${source}: ${got} tokens, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  const k = model.info.topK;
  const layers = moeLayers.map((layer, li) => {
    const all = load.code[li].map((_, e) => KINDS.reduce((a, k) => a + load[k][li][e], 0));
    const assignments = all.reduce((a, b) => a + b, 0);
    const f = all.map((c) => c / assignments);
    const P = prob[li].map((p) => p / nTok);
    const aux = E * f.reduce((a, fi, i) => a + fi * P[i], 0);
    const mean = assignments / E;
    const experts = all.map((_, e) => {
      const m = tokenCount[li][e];
      const frequent = [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([id]) => tok.tokenText(id));
      // Characteristic: share of a token's occurrences that go to this expert, for tokens seen ≥ 8 times.
      const characteristic = [...m.entries()].filter(([id]) => (totalTok.get(id) ?? 0) >= 8)
        .map(([id, c]) => [id, c / totalTok.get(id)!] as const).sort((a, b) => b[1] - a[1]).slice(0, 8)
        .map(([id]) => tok.tokenText(id));
      const codeShare = load.code[li][e] / (load.code[li][e] + load.prose[li][e] || 1);
      return { expert: e, load: f[e], codeShare, frequent, characteristic };
    });
    return {
      layer, jsdBits: jsdBits(load.code[li], load.prose[li]), jsdTop1Bits: jsdBits(load1.code[li], load1.prose[li]),
      jsdPairs: Object.fromEntries(PAIRS.map(([a, b]) => [`${a}|${b}`, jsdBits(load[a][li], load[b][li])])),
      aux, maxOverMean: Math.max(...all) / mean, minOverMean: Math.min(...all) / mean, meanSharedGate: shared[li] / nTok,
      loadByKind: Object.fromEntries(KINDS.map((k) => [k, load[k][li]])), experts,
    };
  });
  const sample = await sampleCodeProseJsd(model, tok, readFileSync(path.join(ROOT, 'test', 'e2e', 'workspace', 'sample.md'), 'utf8'));
  const surprisalMean = Object.fromEntries(Object.entries(surprisal).map(([s, v]) => [s, { nats: v.sum / v.n, tokens: v.n }]));
  const result = { model: modelDir, backend: model.backend, topK: k, tokens: nTok, seconds: (Date.now() - t0) / 1000, surprisal: surprisalMean, sample, layers };
  writeFileSync(`${out}.json`, JSON.stringify(result, null, 1));

  const md: string[] = [];
  md.push(`Measured by \`npx tsx tools/demo-stats.ts\` (engine backend: ${model.backend}) on ${nTok} held-out tokens (${perSource} per source).`, '');
  md.push('| source | kind | tokens | mean surprisal (nats/token) |', '|---|---|---|---|');
  for (const [s, kind] of Object.entries(SOURCES)) md.push(`| ${s} | ${kind} | ${surprisalMean[s].tokens} | ${surprisalMean[s].nats.toFixed(3)} |`);
  md.push('', `| layer | ${PAIRS.map(([a, b]) => `JSD ${a} ‖ ${b}`).join(' | ')} |`, `|---|${PAIRS.map(() => '---').join('|')}|`);
  for (const l of layers) md.push(`| ${l.layer} | ${PAIRS.map(([a, b]) => l.jsdPairs[`${a}|${b}`].toFixed(3)).join(' | ')} |`);
  md.push('', 'JSD of expert load (top-k assignment counts) between held-out kinds, in bits (0 = same distribution, 1 = disjoint).');
  md.push('', 'The same for the top-1 expert alone (the colour each token gets in the editor), code ‖ prose on the held-out text:');
  md.push('', `| layer | ${layers.map((l) => l.layer).join(' | ')} |`, `|---|${layers.map(() => '---').join('|')}|`);
  md.push(`| JSD code ‖ prose, top-1, held-out | ${layers.map((l) => l.jsdTop1Bits.toFixed(3)).join(' | ')} |`);
  md.push('', `On the \`npm start\` sample (\`test/e2e/workspace/sample.md\`: ${sample.codeTokens} code and ${sample.proseTokens} prose tokens), JSD of the top-1 expert (the colour) between code and prose:`);
  md.push('', `| layer | ${sample.layers.join(' | ')} |`, `|---|${sample.layers.map(() => '---').join('|')}|`);
  md.push(`| JSD code ‖ prose, sample | ${sample.bits.map((b) => b.toFixed(3)).join(' | ')} |`);
  md.push(`| default layer | ${sample.layers.map((l) => (l === model.info.defaultLayer ? 'yes' : '')).join(' | ')} |`);
  md.push('', '| layer | aux loss E·Σf·P (1 = balanced) | max/mean load | min/mean load | mean σ(shared gate) |', '|---|---|---|---|---|');
  for (const l of layers) md.push(`| ${l.layer} | ${l.aux.toFixed(3)} | ${l.maxOverMean.toFixed(2)} | ${l.minOverMean.toFixed(2)} | ${l.meanSharedGate.toFixed(3)} |`);
  for (const l of layers) {
    md.push('', `**Layer ${l.layer}** (JSD ${l.jsdBits.toFixed(3)} bits)`, '', '| expert | load | code share | most frequent tokens | most characteristic tokens |', '|---|---|---|---|---|');
    for (const e of l.experts) {
      md.push(`| ${e.expert} | ${(100 * e.load).toFixed(1)}% | ${(100 * e.codeShare).toFixed(0)}% | ${e.frequent.map(show).map((s) => `\`${s}\``).join(' ')} | ${e.characteristic.map(show).map((s) => `\`${s}\``).join(' ')} |`);
    }
  }
  writeFileSync(`${out}.md`, md.join('\n') + '\n');
  if (svgPath) writeFileSync(svgPath, svg(layers, E));
  model.dispose();
  tok.dispose();
  process.stderr.write(`wrote ${out}.json and ${out}.md in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
