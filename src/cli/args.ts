/** Minimal flag parsing for the CLI commands: `--name value`, `--name=value`, boolean `--flag`, positionals. */
import { CliError } from './command';

export interface ParsedArgs {
  flags: Map<string, string | true>;
  positional: string[];
}

/** `valued` lists the flags that take a value; any other `--flag` must be in `booleans`. */
export function parseArgs(argv: string[], valued: readonly string[], booleans: readonly string[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (valued.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) {
        throw new CliError(`--${name} needs a value`, 2);
      }
      flags.set(name, value);
    } else if (booleans.includes(name) && eq < 0) {
      flags.set(name, true);
    } else {
      throw new CliError(`unknown option --${name}`, 2);
    }
  }
  return { flags, positional };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** "1,2,3" → [1, 2, 3]; anything else is a usage error. */
export function parseIds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const ids = parts.map(Number);
  if (parts.length === 0 || ids.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new CliError(`--ids must be a comma-separated list of non-negative integers, got '${text}'`, 2);
  }
  return ids;
}

/** Progress on stderr, one line per 10% step, so long runs show life without flooding logs. */
export function stderrProgress(label: string): (fraction: number, message: string) => void {
  let last = -1;
  return (fraction, message) => {
    const step = Math.floor(fraction * 10);
    if (step !== last) {
      last = step;
      process.stderr.write(`${label}: ${Math.round(fraction * 100)}% ${message}\n`);
    }
  };
}
