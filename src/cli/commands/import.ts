/** @file `moe-lens import FILE --format csv|npy|safetensors -o TRACE.json`: an untrusted file to a checked trace (src/exchange/). */
import { writeFile } from 'node:fs/promises';
import { csvToTrace } from '../../exchange/csv';
import { ImportError, readImportFile } from '../../exchange/importedTrace';
import { npyToTrace } from '../../exchange/npy';
import { safetensorsToTrace } from '../../exchange/safetensorsExchange';
import { attachSpans } from '../../exchange/attachSpans';
import { loadTokenizer, TokenizerError } from '../../engine/tokenizer/tokenizer';
import { traceToJson, type RoutingTrace } from '../../shared/trace';
import { intOption, outAlias, parseCommandArgs, parseIds, timeoutOption } from '../args';
import { CliError, type CliCommand } from '../command';
import { readDocument } from '../document';

const usage = `usage: moe-lens import FILE --format csv|npy|safetensors -o TRACE.json [--experts N] [--layers 0,1,…]
                        [(--text STR | --file DOC) --tokenizer DIR [--no-special-tokens]]

Writes a moe-lens.trace/1 trace; whatever the file does not carry (weights, scores, router logits,
shared weight, token ids, text, spans, the model) is null or 'unknown'. The file is untrusted: it is
read up to 1 GiB, shapes and ranges are checked before anything is allocated, and the result passes
the same validator as every trace.
  --experts N        number of experts (default: one more than the largest id in the file)
  --layers L,…       the MoE layers' checkpoint numbers for npy/safetensors without metadata (default 0…)
  --text STR, --file DOC   the document the routing was computed on: with --tokenizer DIR (a folder
                     with tokenizer.json, e.g. the model's) its tokens give the trace ids, token text
                     and exact UTF-16 spans, as an engine trace has. The tokens must match the
                     imported ones: the same ids where the file has ids, else the same count.
  --no-special-tokens      tokenize DOC without BOS/EOS (when the routing was computed without them)
  --special-tokens-in-text M   'text' (default) or 'special', as for moe-lens tokens
  --timeout-ms N     watchdog limit for tokenizing, 1 to 2147483647 ms`;

/** The document given with --text or --file, tokenized by the tokenizer in --tokenizer DIR (the engine's own: spans in UTF-16). */
async function documentTokens(values: { text?: string; file?: string; tokenizer?: string; 'no-special-tokens'?: boolean; 'special-tokens-in-text'?: string; 'timeout-ms'?: string }) {
  const hasDoc = values.text !== undefined || values.file !== undefined;
  if (!hasDoc && values.tokenizer === undefined) {
    return null;
  }
  if (values.text !== undefined && values.file !== undefined) {
    throw new CliError('give one of --text or --file, not both', 2);
  }
  if (!hasDoc || values.tokenizer === undefined) {
    throw new CliError('--text/--file and --tokenizer go together: the document and the tokenizer that makes its spans', 2);
  }
  const mode = values['special-tokens-in-text'] ?? 'text';
  if (mode !== 'text' && mode !== 'special') {
    throw new CliError(`--special-tokens-in-text must be 'text' or 'special', got '${mode}'`, 2);
  }
  const timeoutMs = timeoutOption(values['timeout-ms']);
  const text = values.file !== undefined ? await readDocument(values.file) : values.text!;
  let tokenizer;
  try {
    tokenizer = await loadTokenizer(values.tokenizer);
  } catch (err) {
    throw new CliError(err instanceof TokenizerError ? err.message : String(err));
  }
  try {
    return await tokenizer.encode(text, { addSpecialTokens: !values['no-special-tokens'], specialTokensInText: mode, timeoutMs });
  } finally {
    tokenizer.dispose();
  }
}

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'read routing from CSV, npy or safetensors into a trace',
  usage,
  async run(argv) {
    const args = parseCommandArgs(
      outAlias(argv),
      {
        format: 'string',
        out: 'string',
        experts: 'string',
        layers: 'string',
        text: 'string',
        file: 'string',
        tokenizer: 'string',
        'no-special-tokens': 'boolean',
        'special-tokens-in-text': 'string',
        'timeout-ms': 'string',
      },
      1,
    );
    const { format, out } = args.values;
    if (args.positional.length !== 1 || !out) {
      throw new CliError(`give one file and -o TRACE.json (or --out)\n${usage}`, 2);
    }
    const file = args.positional[0];
    const experts = intOption(args.values.experts, 'experts', 1);
    const layersFlag = args.values.layers;
    const layers = layersFlag === undefined ? undefined : parseIds(layersFlag);
    // The document is tokenized first: a bad tokenizer or document fails before the import is read.
    const encoded = await documentTokens(args.values);
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
      if (encoded) {
        trace = attachSpans(trace, encoded);
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
