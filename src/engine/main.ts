/**
 * @file The engine process entry point, forked by the extension host (dist/engine.js): a JSON-RPC
 * server over the Node IPC channel (see src/shared/engineProtocol.ts). It exits when the host goes
 * away (hostLink.ts), so a crashed or reloaded window never leaves an engine behind.
 */
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { LogNotification } from '../shared/engineProtocol';
import { exitNow, exitWithHost } from './hostLink';
import { createRealRuntime } from './rpc/realRuntime';
import { startEngineServer } from './rpc/server';

function main(): void {
  if (!process.send) {
    process.stderr.write('dist/engine.js is started by the MoE Lens extension over IPC; use dist/cli.js on the command line.\n');
    process.exit(2);
  }
  const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
  const log = (level: 'info' | 'warn' | 'error', message: string): void => {
    void connection.sendNotification(LogNotification.type, { level, message });
  };
  startEngineServer(connection, createRealRuntime(log), { exit: () => process.exit(0) });
  exitWithHost();
  connection.onClose(exitNow);
  connection.listen();
}

main();
