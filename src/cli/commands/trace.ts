/** `moe-lens trace`: run a model on ids or text and print the routing trace as JSON. */
import * as fs from 'node:fs';
import { writeTraceJson } from '../../shared/traceJson';
import { traceIds, traceText } from '../../engine/analyze';
import { parseBackendName } from '../../engine/backend';
import { defaultModelDir, loadModel, type BackendName, type Model } from '../../engine/model';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { maxMemoryOption, parseCommandArgs, parseIds, stderrProgress, threadsOption } from '../args';
import { CliError, type CliCommand } from '../command';
import { readDocument } from '../document';

const usage = `usage: moe-lens trace [--model DIR|FILE.gguf] (--ids 1,2,3 | --text STR | --file F) [--backend node|wasm|cpu] [--threads N] [--max-memory MB] [--with-logits] [--progress]

Runs the model once over the tokens and prints the routing trace (schema moe-lens.trace/1) as JSON:
per layer the router logits, scores, chosen experts, gate weights and shared-expert weight; per token
the surprisal of the next token in nats. --ids needs no tokenizer; --text and --file use the model
folder's tokenizer.json (a GGUF file's own tokenizer); --file - reads standard input. Documents are at most 16 MB of UTF-8
text; binary files are refused. Progress goes to stderr when it is a terminal, or always with
--progress. --model defaults to the embedded demo model. MOE_LENS_BACKEND also picks the backend.
--max-memory MB bounds the engine's memory: a model whose weights do not fit is streamed from disk
layer by layer, one that cannot run even so is refused with the minimum it needs (default: three
quarters of physical memory; 'moe-lens info' shows the plan). --threads N: the wasm backend's
threads (default every core, or MOE_LENS_THREADS; 1 runs the single-threaded build).`;

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

/** --backend as a BackendName (a usage error when unknown). */
export function backendOption(backend: string | undefined): BackendName | undefined {
  try {
    return backend === undefined ? undefined : parseBackendName(backend);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}

/** Loads the model within --max-memory (as bytes; default three quarters of physical memory) on --threads. */
export async function openModel(dir: string, backend: string | undefined, maxMemoryBytes?: number, threads?: number): Promise<Model> {
  return loadModel(dir, { backend: backendOption(backend), maxMemoryBytes, threads });
}

export const traceCommand: CliCommand = {
  name: 'trace',
  summary: 'print the routing trace of ids or text as JSON',
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
      'with-logits': 'boolean',
      progress: 'boolean',
    });
    const sources = [values.ids, values.text, values.file].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      throw new CliError('give exactly one of --ids, --text or --file', 2);
    }
    const ids = values.ids !== undefined ? parseIds(values.ids) : null;
    const maxMemoryBytes = maxMemoryOption(values['max-memory']);
    const threads = threadsOption(values.threads);
    const text = values.file !== undefined ? await readDocument(values.file) : values.text;
    const dir = modelDirFrom(values.model);
    const model = await openModel(dir, values.backend, maxMemoryBytes, threads);
    try {
      const opts = { withLogits: values['with-logits'] === true, onProgress: stderrProgress('moe-lens', values.progress) };
      let trace;
      if (ids) {
        trace = await traceIds(model, ids, opts);
      } else {
        const tokenizer = await loadTokenizer(dir);
        try {
          trace = await traceText(model, tokenizer, text!, opts);
        } finally {
          tokenizer.dispose();
        }
      }
      // Piece by piece: a long trace with logits is larger than the longest string V8 can build.
      await writeTraceJson(trace, process.stdout);
      process.stdout.write('\n');
      return 0;
    } finally {
      model.dispose();
    }
  },
};
