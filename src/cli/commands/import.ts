/** @file `moe-lens import FILE --format csv|npy|safetensors -o TRACE.json`: an untrusted file to a checked trace (src/exchange/). */
import { writeFile } from 'node:fs/promises';
import { csvToTrace } from '../../exchange/csv';
import { ImportError, readImportFile } from '../../exchange/importedTrace';
import { npyToTrace } from '../../exchange/npy';
import { safetensorsToTrace } from '../../exchange/safetensorsExchange';
import { traceToJson, type RoutingTrace } from '../../shared/trace';
import { intOption, outAlias, parseCommandArgs, parseIds } from '../args';
import { CliError, type CliCommand } from '../command';

const usage = `usage: moe-lens import FILE --format csv|npy|safetensors -o TRACE.json [--experts N] [--layers 0,1,…]

Writes a moe-lens.trace/1 trace; whatever the file does not carry (weights, scores, router logits,
shared weight, token ids, text, spans, the model) is null or 'unknown'. The file is untrusted: it is
read up to 1 GiB, shapes and ranges are checked before anything is allocated, and the result passes
the same validator as every trace.
  --experts N        number of experts (default: one more than the largest id in the file)
  --layers L,…       the MoE layers' checkpoint numbers for npy/safetensors without metadata (default 0…)`;

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'read routing from CSV, npy or safetensors into a trace',
  usage,
  async run(argv) {
    const args = parseCommandArgs(outAlias(argv), { format: 'string', out: 'string', experts: 'string', layers: 'string' }, 1);
    const { format, out } = args.values;
    if (args.positional.length !== 1 || !out) {
      throw new CliError(`give one file and -o TRACE.json (or --out)\n${usage}`, 2);
    }
    const file = args.positional[0];
    const experts = intOption(args.values.experts, 'experts', 1);
    const layersFlag = args.values.layers;
    const layers = layersFlag === undefined ? undefined : parseIds(layersFlag);
    let trace: RoutingTrace;
    try {
      if (format === 'csv') {
        trace = csvToTrace((await readImportFile(file)).toString('utf8'), file, { experts });
      } else if (format === 'npy') {
        trace = npyToTrace(await readImportFile(file), file, { experts, layers });
      } else if (format === 'safetensors') {
        trace = await safetensorsToTrace(file, { experts, layers });
      } else {
        throw new CliError('--format must be csv, npy or safetensors', 2);
      }
    } catch (err) {
      if (err instanceof ImportError) {
        throw new CliError(err.message);
      }
      throw err;
    }
    await writeFile(out, traceToJson(trace) + '\n');
    return 0;
  },
};
