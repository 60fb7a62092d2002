/**
 * @file The engine lives only as long as its host. When the IPC channel to the extension host
 * closes (the window reloaded, the host crashed or was killed), nobody is left to answer, so the
 * engine ends at once. It ends by a signal, not process.exit: process.exit waits for every worker
 * thread, and a worker stuck in a system call (a read that never returns) would keep it alive for ever.
 */

/** Ends this process now, whatever its threads are doing. */
export function exitNow(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL did not end the process');
}

/** Ends this process as soon as its IPC channel to the parent closes (or now, if it already has). */
export function exitWithHost(): void {
  if (!process.connected) {
    exitNow();
  }
  process.once('disconnect', exitNow);
}
