/** @file `moe-lens tokens`: a document's tokens with their ids and exact UTF-16 spans, as JSON. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { CliError, type CliCommand } from '../command';

const usage = `usage: moe-lens tokens --tokenizer DIR (--text STR | --file F) [options]

Prints [{"id","text","start","end","partial"}…]: start/end are UTF-16 code-unit offsets into the
text (what VS Code positions use), null for BOS/EOS added by the post-processor; partial marks
tokens that share one code point split between them (byte-level BPE cutting an emoji or CJK char).

options:
  --tokenizer DIR               folder with tokenizer.json (and tokenizer_config.json)
  --text STR                    the text to tokenize
  --file F                      read the text from F (UTF-8)
  --special-tokens-in-text M    'text' (default): special-token strings written in the text are
                                tokenized as plain text; 'special': they become the special token
  --no-special-tokens           do not add BOS/EOS
  --timeout-ms N                watchdog limit for tokenizing`;

export const tokensCommand: CliCommand = {
  name: 'tokens',
  summary: 'tokenize a text: ids, token text and exact document spans as JSON',
  usage,
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          tokenizer: { type: 'string' },
          text: { type: 'string' },
          file: { type: 'string' },
          'special-tokens-in-text': { type: 'string' },
          'no-special-tokens': { type: 'boolean' },
          'timeout-ms': { type: 'string' },
        },
        strict: true,
      }));
    } catch (err) {
      throw new CliError(`${(err as Error).message}\n${usage}`, 2);
    }
    if (!values.tokenizer) { throw new CliError('--tokenizer DIR is required', 2); }
    if ((values.text === undefined) === (values.file === undefined)) {
      throw new CliError('give exactly one of --text STR or --file F', 2);
    }
    const mode = values['special-tokens-in-text'] ?? 'text';
    if (mode !== 'text' && mode !== 'special') {
      throw new CliError(`--special-tokens-in-text must be 'text' or 'special', got '${mode}'`, 2);
    }
    let timeoutMs: number | undefined;
    if (values['timeout-ms'] !== undefined) {
      timeoutMs = Number(values['timeout-ms']);
      if (!(timeoutMs > 0)) { throw new CliError('--timeout-ms must be a positive number', 2); }
    }
    let text: string;
    if (values.file !== undefined) {
      try {
        text = readFileSync(values.file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${values.file}: ${(err as Error).message}`);
      }
    } else {
      text = values.text!;
    }
    const tokenizer = await loadTokenizer(values.tokenizer);
    try {
      const tokens = await tokenizer.encode(text, {
        addSpecialTokens: !values['no-special-tokens'],
        specialTokensInText: mode,
        timeoutMs,
      });
      const rows = tokens.map((t) => ({ id: t.id, text: t.text, start: t.start, end: t.end, partial: t.partial === true }));
      process.stdout.write(JSON.stringify(rows) + '\n');
      return 0;
    } finally {
      tokenizer.dispose();
    }
  },
};
