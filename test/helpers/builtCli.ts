/**
 * @file The built CLI for tests that run it as a user does (`node dist/cli.js …`). `npm test`
 * builds first, but a test file run alone after a source change would otherwise exercise a stale
 * dist/: this rebuilds (esbuild, a few seconds) when a bundle the CLI needs is missing or older
 * than any file under src/ or esbuild.js. An mtime walk of src/ costs a few milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI_PATH = path.join(REPO_ROOT, 'dist', 'cli.js');

/** What `node dist/cli.js` loads at run time: the CLI bundle, the tokenizer's watchdog worker and the kernel worker. */
const CLI_OUTPUTS = [CLI_PATH, path.join(REPO_ROOT, 'dist', 'tokenizerWorker.js'), path.join(REPO_ROOT, 'dist', 'kernelWorker.js')];

/** Newest modification time (ms) of the build's inputs: every file under src/, and esbuild.js. */
export function newestSourceMtime(): number {
  let newest = statSync(path.join(REPO_ROOT, 'esbuild.js')).mtimeMs;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        walk(full);
      } else {
        newest = Math.max(newest, statSync(full).mtimeMs);
      }
    }
  };
  walk(path.join(REPO_ROOT, 'src'));
  return newest;
}

/** Why the CLI bundles must be rebuilt, or null when they are there and newer than every source. */
export function staleReason(outputs: string[] = CLI_OUTPUTS): string | null {
  const missing = outputs.find((f) => !existsSync(f));
  if (missing) {
    return `${path.relative(REPO_ROOT, missing)} is missing`;
  }
  const oldest = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const newest = newestSourceMtime();
  return newest > oldest ? `a source file is newer than the build (by ${((newest - oldest) / 1000).toFixed(1)} s)` : null;
}

/** Rebuilds dist/ if it is missing or stale; returns the path of dist/cli.js. */
export function builtCli(): string {
  const reason = staleReason();
  if (reason) {
    process.stdout.write(`# rebuilding dist/: ${reason}\n`);
    execFileSync(process.execPath, ['esbuild.js'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  return CLI_PATH;
}
