/** `moe-lens info`: what a model folder is and how it would run in memory, from its headers alone. */
import { summarizeModel } from '../../engine/modelSummary';
import { formatModelInfo } from '../../shared/modelPlanText';
import { maxMemoryOption, parseCommandArgs } from '../args';
import type { CliCommand } from '../command';
import { backendOption, modelDirFrom } from './trace';

const usage = `usage: moe-lens info [--model DIR|FILE.gguf] [--max-memory MB] [--backend node|wasm|cpu]

Prints the model's family, total and active parameters, layers, experts and k, the dtypes of its
weights, bytes on disk, and how it would run within the memory budget (--max-memory MB, default
three quarters of physical memory): resident (weights held at their stored precision), streamed
(each layer read from disk as the run reaches it), or refused with the minimum it needs. Reads
config.json and the safetensors headers only, no weights. --backend says whose heap limit applies
(default wasm). --model defaults to the embedded demo model.`;

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'print a model\'s size and how it would run within a memory budget',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { model: 'string', 'max-memory': 'string', backend: 'string' });
    const summary = await summarizeModel(modelDirFrom(values.model), {
      maxMemoryBytes: maxMemoryOption(values['max-memory']),
      backend: backendOption(values.backend),
    });
    process.stdout.write(formatModelInfo(summary) + '\n');
    return 0;
  },
};
