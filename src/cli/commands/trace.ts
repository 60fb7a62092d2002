/** `moe-lens trace`: run a model on ids or text and print the routing trace as JSON. */
import * as fs from 'node:fs';
import { traceToJson } from '../../shared/trace';
import { traceIds, traceText } from '../../engine/analyze';
import { parseBackendName } from '../../engine/backend';
import { defaultModelDir, loadModel, type Model } from '../../engine/model';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { parseArgs, parseIds, stringFlag } from '../args';
import { CliError, type CliCommand } from '../command';

const usage = `usage: moe-lens trace [--model DIR] (--ids 1,2,3 | --text STR | --file F) [--backend node|wasm|cpu] [--with-logits]

Runs the model once over the tokens and prints the routing trace (schema moe-lens.trace/1) as JSON:
per layer the router logits, scores, chosen experts, gate weights and shared-expert weight; per token
the surprisal of the next token in nats. --ids needs no tokenizer; --text and --file use the model
folder's tokenizer.json. --model defaults to the embedded demo model. MOE_LENS_BACKEND also picks the backend.`;

/** Resolves --model, or the embedded demo model with a clear error when it is not there. */
export function modelDirFrom(value: string | undefined): string {
  if (value !== undefined) {
    return value;
  }
  const dir = defaultModelDir();
  if (!fs.existsSync(`${dir}/config.json`)) {
    throw new CliError(`no --model given and the embedded demo model is missing (${dir}); pass --model DIR`);
  }
  return dir;
}

export async function openModel(dir: string, backend: string | undefined): Promise<Model> {
  let pref;
  try {
    pref = backend === undefined ? undefined : parseBackendName(backend);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  return loadModel(dir, { backend: pref });
}

export const traceCommand: CliCommand = {
  name: 'trace',
  summary: 'print the routing trace of ids or text as JSON',
  usage,
  async run(argv) {
    const args = parseArgs(argv, ['model', 'ids', 'text', 'file', 'backend'], ['with-logits']);
    if (args.positional.length > 0) {
      throw new CliError(`unexpected argument '${args.positional[0]}'`, 2);
    }
    const sources = ['ids', 'text', 'file'].filter((s) => args.flags.has(s));
    if (sources.length !== 1) {
      throw new CliError('give exactly one of --ids, --text or --file', 2);
    }
    const ids = args.flags.has('ids') ? parseIds(stringFlag(args, 'ids')!) : null;
    const file = stringFlag(args, 'file');
    let text = stringFlag(args, 'text');
    if (file !== undefined) {
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
      }
    }
    const dir = modelDirFrom(stringFlag(args, 'model'));
    const model = await openModel(dir, stringFlag(args, 'backend'));
    try {
      const withLogits = args.flags.has('with-logits');
      let trace;
      if (ids) {
        trace = await traceIds(model, ids, { withLogits });
      } else {
        const tokenizer = await loadTokenizer(dir);
        try {
          trace = await traceText(model, tokenizer, text!, { withLogits });
        } finally {
          tokenizer.dispose();
        }
      }
      process.stdout.write(traceToJson(trace) + '\n');
      return 0;
    } finally {
      model.dispose();
    }
  },
};
