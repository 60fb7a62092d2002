/** One CLI subcommand. Each lives in its own file under src/cli/commands/ and is listed in main.ts. */
export interface CliCommand {
  name: string;
  /** One line for `moe-lens --help`. */
  summary: string;
  /** Full usage text for `moe-lens <name> --help`. */
  usage: string;
  /** Runs the command; resolves to the process exit code. Throw `CliError` for user errors. */
  run(argv: string[]): Promise<number>;
}

/** A user-facing error: printed as one line on stderr, exit code 1 (2 for bad usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
