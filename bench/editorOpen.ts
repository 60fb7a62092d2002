/**
 * @file bench/editorOpen — in a real VS Code (code-server + headless Chromium, test/e2e/vscode.ts):
 * the time from opening a ~2,000-token document to its highlights, warm engine, embedded model.
 *
 *   npm run build && npx tsx bench/editorOpen.ts      # --runs 3
 *
 * `moeLens.analyzeOnOpen` on, live mode off. A small file is opened and analysed first so the
 * engine and the model are loaded; then each run opens a new ~2,000-token file (different text, so
 * no cached analysis helps) and polls the editor's DOM until more than 20 background decorations
 * show. Prints the machine's load with each run.
 * A benchmark, not a test; needs the e2e host (node test/e2e/setup.mjs --check).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { DebugStats } from '../src/extension/testCommands';
import { REPO, sleep, startVsCode, unavailableReason } from '../test/e2e/vscode';

const RUNS = Number(process.argv.includes('--runs') ? process.argv[process.argv.indexOf('--runs') + 1] : 3);

/** ~410 characters a section; 11 sections ≈ 2,000 tokens of the embedded tokenizer (as test/e2e/editor.test.ts). */
function longDocument(salt: string, sections = 11): string {
  const parts: string[] = [`# Long routing notes (${salt})`, ''];
  for (let i = 0; i < sections; i++) {
    parts.push(
      `## Section ${i + 1}: ${salt} layer ${i % 16}`,
      '',
      `The router of layer ${i % 16} scores ${64 + i} experts for every token and keeps the best ${2 + (i % 6)}.`,
      `Numbers such as ${(i * 3.14159).toFixed(3)}, ${1000 + i * 37} and 0x${(i * 4099).toString(16)} are routed unlike words.`,
      '',
      '```ts',
      `function gate${i}(logits: number[]): number[] {`,
      `  const max = Math.max(...logits); // ${salt}`,
      '  const exps = logits.map((x) => Math.exp(x - max));',
      '  const sum = exps.reduce((a, b) => a + b, 0);',
      '  return exps.map((e) => e / sum);',
      '}',
      '```',
      '',
    );
  }
  return parts.join('\n');
}

function load(): string {
  return `load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')} on ${cpus().length} cores`;
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 600_000, everyMs = 25): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await f()) {
      return Date.now() - t0;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main(): Promise<void> {
  const why = await unavailableReason();
  if (why) {
    console.log(`bench/editorOpen skipped: ${why}`);
    return;
  }
  console.log(`# bench/editorOpen — ${new Date().toISOString()}, ${cpus()[0]?.model ?? 'unknown CPU'}; before: ${load()}`);
  const vs = await startVsCode({ workspace: join(REPO, 'test', 'e2e', 'workspace'), settings: { 'moeLens.liveMode': false, 'moeLens.analyzeOnOpen': true } });
  try {
    writeFileSync(join(vs.workspace, 'warm.md'), 'Warm the engine: load the model once.\n');
    for (let r = 0; r < RUNS; r++) {
      writeFileSync(join(vs.workspace, `long${r}.md`), longDocument(`run${r}`));
    }
    await vs.openFile('warm.md');
    await until('the warm-up highlights', async () => (await vs.backgroundDecorations()).count > 0);
    const times: number[] = [];
    const lines: string[] = [];
    for (let r = 0; r < RUNS; r++) {
      await vs.watchDecorations(`long${r}.md`, 20);
      const t0 = Date.now();
      await vs.openFile(`long${r}.md`);
      const opened = Date.now() - t0;
      // The page notes the first frame with the highlights; asking for that only now and then keeps
      // this process's polling off the renderer it measures.
      let seenAt: number | null = null;
      await until(`highlights on long${r}.md`, async () => (seenAt = await vs.decorationsSeenAt()) !== null, 600_000, 200);
      times.push((seenAt ?? NaN) - t0);
      await until(`the whole analysis of long${r}.md`, async () => {
        const stats = await vs.exec<DebugStats>('moeLens.debug.stats');
        const a = Object.entries(stats.analyses).find(([uri]) => uri.endsWith(`/long${r}.md`))?.[1];
        const t = a?.timeline;
        if (!a || !t?.answered) {
          return false;
        }
        const at = (x: number | undefined): string => (x === undefined ? '–' : `${x - t0}`);
        lines.push(`| long${r}.md | ${a.tokens} | ${opened} | ${at(t.sent)} | ${at(t.firstWindow)} | ${times[r]} | ${at(t.answered)} |`);
        return true;
      }, 600_000, 200);
      console.log(`open → highlights, long${r}.md (${longDocument(`run${r}`).length} chars): ${times[r]} ms; ${load()}`);
    }
    console.log('\nms after the open was asked for: | document | tokens | editor shown | analysis sent | first window stored | highlights seen | whole analysis stored |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    lines.forEach((l) => console.log(l));
    console.log(`median open → highlights ${[...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]} ms`);
  } finally {
    await vs.close();
  }
  console.log(`after: ${load()}`);
}

void main();
