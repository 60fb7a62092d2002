/**
 * The engine ends when its host does, even while a worker thread is stuck in a blocking read:
 * process.exit would wait for that thread for ever, so hostLink ends the process by a signal.
 */
import assert from 'node:assert/strict';
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

const root = mkdtempSync(path.join(tmpdir(), 'moe-lens-host-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a child blocked on a read exits as soon as its IPC channel to the parent closes', async () => {
  const fifo = path.join(root, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const child = fork(path.join(__dirname, 'blockedChild.ts'), [fifo], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  child.disconnect();
  // Guard only: a child that outlives its parent by 20 s counts as never exiting.
  let guard: NodeJS.Timeout | undefined;
  const how = await Promise.race([exited, new Promise<string>((resolve) => (guard = setTimeout(() => resolve('still running'), 20_000)))]);
  clearTimeout(guard);
  child.kill('SIGKILL');
  assert.equal(how, 'SIGKILL', 'the child ended itself by signal once the parent was gone');
});
