/**
 * @file The one argument parser of every subcommand: node's util.parseArgs (`--flag value` and
 * `--flag=value`, unknown flags refused), its errors reworded to one line in the same words
 * everywhere, and strict decimal numbers (`--layer=` or `--ids 0x10` are usage errors, not 0 or 16).
 */
import { parseArgs } from 'node:util';
import { MAX_TIMEOUT_MS } from '../shared/timeouts';
import { MAX_THREADS } from '../engine/backend';
import { CliError } from './command';

/** Each option's name and whether it takes a value ('string') or not ('boolean'). */
export type OptionSpec = Record<string, 'string' | 'boolean'>;

export type OptionValues<S extends OptionSpec> = { [K in keyof S]?: S[K] extends 'string' ? string : boolean };

export interface ParsedArgs<S extends OptionSpec> {
  values: OptionValues<S>;
  positional: string[];
}

/** Parses `argv` against `spec`; `maxPositional` arguments that are not options are allowed (default none). */
export function parseCommandArgs<S extends OptionSpec>(argv: string[], spec: S, maxPositional = 0): ParsedArgs<S> {
  const options = Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }]));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: maxPositional > 0 });
  } catch (err) {
    throw new CliError(reworded(err as NodeJS.ErrnoException), 2);
  }
  if (parsed.positionals.length > maxPositional) {
    throw new CliError(`unexpected argument '${parsed.positionals[maxPositional]}'`, 2);
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '') {
      throw new CliError(`--${name} needs a value`, 2);
    }
  }
  return { values: parsed.values as OptionValues<S>, positional: parsed.positionals };
}

function reworded(err: NodeJS.ErrnoException): string {
  const option = /'(-[^' ]*)/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'[^']*'/.exec(err.message)?.[0] ?? ''}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(err.message)
        ? `${option} takes no value`
        : `${option} needs a value (write ${option}=VALUE for a value that starts with '-')`;
    default:
      return err.message.split('\n')[0];
  }
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** A whole decimal number in [min, max]; undefined when the option was not given. */
export function intOption(text: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new CliError(`--${name} must be a whole number ${range}, got '${text}'`, 2);
  }
  return n;
}

/** `--max-memory MB`: the engine's memory budget in MB of 2^20 bytes, as bytes (undefined: the engine's default). */
export function maxMemoryOption(text: string | undefined): number | undefined {
  const mb = intOption(text, 'max-memory', 1, 2 ** 30);
  return mb === undefined ? undefined : mb * 2 ** 20;
}

/** `--threads N`: the wasm backend's threads (undefined: MOE_LENS_THREADS, else every core; 1 = one thread). */
export function threadsOption(text: string | undefined): number | undefined {
  return intOption(text, 'threads', 1, MAX_THREADS);
}

/** `--timeout-ms`: at most what a timer can wait (longer delays would fire at once). */
export function timeoutOption(text: string | undefined, name = 'timeout-ms'): number | undefined {
  return intOption(text, name, 1, MAX_TIMEOUT_MS);
}

/** "1,2,3" → [1, 2, 3]: whole decimal numbers only. */
export function parseIds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || !parts.every((p) => DECIMAL.test(p) && Number.isSafeInteger(Number(p)))) {
    throw new CliError(`--ids must be a comma-separated list of whole numbers (token ids), got '${text}'`, 2);
  }
  return parts.map(Number);
}

/**
 * Progress on stderr, one line per 10% step. Shown when stderr is a terminal or `--progress` is
 * given, so a redirected run's logs stay clean unless asked.
 */
export function stderrProgress(label: string, forced = false): ((fraction: number, message: string) => void) | undefined {
  if (!forced && !process.stderr.isTTY) {
    return undefined;
  }
  let last = -1;
  return (fraction, message) => {
    const step = Math.floor(fraction * 10);
    if (step !== last) {
      last = step;
      process.stderr.write(`${label}: ${Math.round(fraction * 100)}% ${message}\n`);
    }
  };
}

/** `-o FILE` as `--out FILE`, the one short option the file-writing commands take. */
export function outAlias(argv: string[]): string[] {
  return argv.map((a) => (a === '-o' ? '--out' : a));
}
