/**
 * @file The tests that run the built CLI rebuild dist/ when a source is newer than it, so a lone
 * run after a code change never tests a stale bundle (test/helpers/builtCli.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { CLI_PATH, REPO_ROOT, builtCli, newestSourceMtime, staleReason } from '../../helpers/builtCli';

describe('built CLI freshness', () => {
  test('a dist/cli.js older than a source is rebuilt, and a fresh one is left alone', () => {
    builtCli();
    assert.equal(staleReason(), null);
    // Back-date the bundle to before the newest source: as after editing src/ without a build.
    const past = new Date(newestSourceMtime() - 60_000);
    utimesSync(CLI_PATH, past, past);
    assert.match(staleReason() ?? '', /a source file is newer than the build/);
    builtCli();
    assert.ok(statSync(CLI_PATH).mtimeMs >= newestSourceMtime(), 'dist/cli.js was not rebuilt');
    assert.equal(staleReason(), null);
    const mtime = statSync(CLI_PATH).mtimeMs;
    builtCli();
    assert.equal(statSync(CLI_PATH).mtimeMs, mtime, 'a fresh build was rebuilt again');
  });

  test('every test that runs dist/cli.js gets it through builtCli()', () => {
    // test/webview has its own owner and falls back to reference data when the CLI is absent.
    const users: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (!['fixtures', 'webview', 'e2e', 'node_modules'].includes(e.name)) {
            walk(full);
          }
        } else if (e.name.endsWith('.ts') && full !== path.join(REPO_ROOT, 'test', 'helpers', 'builtCli.ts')) {
          const src = readFileSync(full, 'utf8');
          if (/'dist', 'cli\.js'|dist\/cli\.js'/.test(src)) {
            users.push(path.relative(REPO_ROOT, full));
          }
        }
      }
    };
    walk(path.join(REPO_ROOT, 'test'));
    assert.deepEqual(users, [], 'these build their own path to dist/cli.js instead of calling builtCli()');
  });
});
