/** `moe-lens counterfactual`: re-run the model with another routing and print what changed, per token. */
import { counterfactualIds } from '../../engine/analyze';
import { MODE_SYNTAX } from '../../engine/counterfactualModes';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { maxMemoryOption, parseCommandArgs, parseIds, stderrProgress, threadsOption } from '../args';
import { CliError, type CliCommand } from '../command';
import { readDocument } from '../document';
import { modelDirFrom, openModel } from './trace';

const usage = `usage: moe-lens counterfactual [--model DIR] (--ids 1,2,3 | --text STR | --file F) --mode MODE [--backend node|wasm|cpu] [--threads N] [--max-memory MB] [--progress]

Runs the model as it is and again with MODE's routing, and prints (schema moe-lens.counterfactual/1)
per token KL(model ‖ counterfactual) of the next-token distribution and the change in surprisal of
the actual next token (counterfactual − model), both in nats, and per MoE layer the experts and
weights that served each token (possibly none). L is the checkpoint's layer number.

modes: ${MODE_SYNTAX}
  topk:K[@L]          token choice with k = K (1…E), in every MoE layer or only layer L
  expert-choice:F     each expert takes its top C = max(1, ⌊T·F/E⌋) tokens by the dense gate;
                      NOT causal: it ranks the whole window ("causal": false in the output)
  capacity:F          the model's top-k, at most C = ⌈T·k·F/E⌉ tokens per expert in position
                      order; "dropped"[t] lists the experts token t lost
  dense               every expert, weighted by the family's own gate over all E
  ablate:L:E[,E…]     those experts removed before selection in layer L (next-best fill in)
  force:L:E           expert E in every token's set in layer L (in place of the k-th choice)
  sweep-k             topk:1 … topk:E; one summary row per pass (mean/max KL, mean Δsurprisal)
  ablate-each:L       each expert of layer L removed in turn; one summary row per pass

All tokens run as one window (at most the model's context). --ids needs no tokenizer; --file - reads
standard input. Progress goes to stderr when it is a terminal, or always with --progress.
--max-memory MB bounds the engine's memory as for 'moe-lens trace' (streamed when the weights do not
fit; 'moe-lens info' shows the plan).`;

export const counterfactualCommand: CliCommand = {
  name: 'counterfactual',
  summary: 'change the routing (k, expert choice, capacity, dense, ablate, force) and print the effect per token',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      model: 'string',
      ids: 'string',
      text: 'string',
      file: 'string',
      backend: 'string',
      threads: 'string',
      'max-memory': 'string',
      mode: 'string',
      progress: 'boolean',
    });
    const sources = [values.ids, values.text, values.file].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      throw new CliError('give exactly one of --ids, --text or --file', 2);
    }
    const mode = values.mode;
    if (mode === undefined) {
      throw new CliError(`give --mode (${MODE_SYNTAX})`, 2);
    }
    let ids = values.ids !== undefined ? parseIds(values.ids) : null;
    const text = values.file !== undefined ? await readDocument(values.file) : values.text;
    const dir = modelDirFrom(values.model);
    const model = await openModel(dir, values.backend, maxMemoryOption(values['max-memory']), threadsOption(values.threads));
    try {
      if (!ids) {
        const tokenizer = await loadTokenizer(dir);
        try {
          ids = (await tokenizer.encode(text!)).map((t) => t.id);
        } finally {
          tokenizer.dispose();
        }
        if (ids.length === 0) {
          throw new CliError('the text produced no tokens');
        }
      }
      let doc;
      try {
        doc = await counterfactualIds(model, ids, mode, { onProgress: stderrProgress('moe-lens', values.progress) });
      } catch (err) {
        const message = (err as Error).message;
        throw /^bad mode/.test(message) ? new CliError(message, 2) : err;
      }
      process.stdout.write(JSON.stringify(doc) + '\n');
      return 0;
    } finally {
      model.dispose();
    }
  },
};
