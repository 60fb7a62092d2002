/** @file `moe-lens tokens`: a document's tokens with their ids and exact UTF-16 spans, as JSON. */
import { loadTokenizer } from '../../engine/tokenizer/tokenizer';
import { parseCommandArgs, timeoutOption } from '../args';
import { CliError, type CliCommand } from '../command';
import { readDocument } from '../document';

const usage = `usage: moe-lens tokens --tokenizer DIR|FILE.gguf (--text STR | --file F) [options]

Prints [{"id","text","start","end","partial"}…]: start/end are UTF-16 code-unit offsets into the
text (what VS Code positions use), null for BOS/EOS added by the post-processor; partial marks
tokens that share one code point split between them (byte-level BPE cutting an emoji or CJK char).

options:
  --tokenizer DIR|FILE.gguf     folder with tokenizer.json (and tokenizer_config.json), or a GGUF file
  --text STR                    the text to tokenize
  --file F                      read the text from F (UTF-8, at most 16 MB; - is standard input)
  --special-tokens-in-text M    'text' (default): special-token strings written in the text are
                                tokenized as plain text; 'special': they become the special token
  --no-special-tokens           do not add BOS/EOS
  --timeout-ms N                watchdog limit for tokenizing, 1 to 2147483647 ms`;

export const tokensCommand: CliCommand = {
  name: 'tokens',
  summary: 'tokenize a text: ids, token text and exact document spans as JSON',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      tokenizer: 'string',
      text: 'string',
      file: 'string',
      'special-tokens-in-text': 'string',
      'no-special-tokens': 'boolean',
      'timeout-ms': 'string',
    });
    if (values.tokenizer === undefined) {
      throw new CliError('--tokenizer DIR is required', 2);
    }
    if ((values.text === undefined) === (values.file === undefined)) {
      throw new CliError('give exactly one of --text or --file', 2);
    }
    const mode = values['special-tokens-in-text'] ?? 'text';
    if (mode !== 'text' && mode !== 'special') {
      throw new CliError(`--special-tokens-in-text must be 'text' or 'special', got '${mode}'`, 2);
    }
    const timeoutMs = timeoutOption(values['timeout-ms']);
    const text = values.file !== undefined ? await readDocument(values.file) : values.text!;
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
