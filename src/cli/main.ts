/**
 * @file `moe-lens` — the headless CLI on the same engine the extension runs.
 * Dispatches to one file per subcommand; every error becomes one line on stderr and a non-zero exit.
 */
import { CliError, type CliCommand } from './command';
import { analyzeCommand } from './commands/analyze';
import { counterfactualCommand } from './commands/counterfactual';
import { diffCommand } from './commands/diff';
import { exportCommand } from './commands/export';
import { importCommand } from './commands/import';
import { infoCommand } from './commands/info';
import { tokensCommand } from './commands/tokens';
import { traceCommand } from './commands/trace';
import { revealInvisibles } from '../shared/tokenText';

const commands: CliCommand[] = [
  traceCommand,
  analyzeCommand,
  tokensCommand,
  infoCommand,
  counterfactualCommand,
  diffCommand,
  exportCommand,
  importCommand,
];

function help(): string {
  const lines = commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return ['usage: moe-lens <command> [options]', '', 'commands:', ...lines, '', 'moe-lens <command> --help for details.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(help() + '\n');
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    throw new CliError(`unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}`, 2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  return command.run(rest);
}

// A reader that stops early (`moe-lens trace … | head`) closes the pipe: that ends the run quietly,
// as it does for other Unix tools, instead of an unhandled EPIPE stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') {
    process.exit(0);
  }
  process.stderr.write(`moe-lens: cannot write the output: ${err.message}\n`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    // Messages quote file names and checkpoint strings: escapes in them must not reach the terminal.
    process.stderr.write(`moe-lens: ${revealInvisibles(message.split('\n')[0] ?? '')}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  },
);
