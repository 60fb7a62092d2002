/** @file `moe-lens diff A.json B.json`: per-layer JSD of expert loads and per-token changed experts (src/shared/traceDiff.ts). */
import { readFile } from 'node:fs/promises';
import { DiffError, diffTraces } from '../../shared/traceDiff';
import { TraceError } from '../../shared/traceCheck';
import { readTraceJson } from '../../shared/traceCodec';
import type { RoutingTrace } from '../../shared/trace';
import { parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';

const usage = `usage: moe-lens diff A.json B.json [--pretty]

Compares two saved traces (moe-lens trace). Prints {"schema":"moe-lens.diff/1","layers":[{"layer",
"jsd","loadA","loadB","changedTokens"}…],"sameSpans","changes":[{"token","layer","onlyA","onlyB"}…]}:
per MoE layer (matched by the checkpoint's layer number) the Jensen–Shannon divergence in bits of the
two expert-load distributions (0 for identical loads), and when both traces have the same token spans
the experts each token gained or lost. Both traces must have the same number of experts.`;

export async function readTraceFile(file: string): Promise<RoutingTrace> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return readTraceJson(text);
  } catch (err) {
    throw new CliError(`${file}: ${(err as TraceError).message}`);
  }
}

export const diffCommand: CliCommand = {
  name: 'diff',
  summary: 'compare two traces: JSD of expert loads per layer, changed experts per token',
  usage,
  async run(argv) {
    const args = parseCommandArgs(argv, { pretty: 'boolean' }, 2);
    if (args.positional.length !== 2) {
      throw new CliError(`give exactly two trace files\n${usage}`, 2);
    }
    const [a, b] = await Promise.all(args.positional.map(readTraceFile));
    try {
      const diff = diffTraces(a, b);
      process.stdout.write(JSON.stringify(diff, null, args.values.pretty ? 2 : undefined) + '\n');
      return 0;
    } catch (err) {
      if (err instanceof DiffError) {
        throw new CliError(`cannot compare: ${err.message}`);
      }
      throw err;
    }
  },
};
