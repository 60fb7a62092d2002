/**
 * @file The tokenizer's worker thread: loads tokenizer.json and encodes, so that a pathological
 * tokenizer (a split regex that backtracks for minutes) can be stopped by terminating this thread
 * instead of hanging the engine. Bundled as dist/tokenizerWorker.js; run from source under tsx.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadCore, loadGgufCore } from './load';
import type { CoreEncoding } from './encoding';
import type { TokenizerCore } from './core';

export type WorkerRequest = {
  type: 'encode';
  id: number;
  text: string;
  addSpecialTokens: boolean;
  specialTokensInText: 'special' | 'text';
};

export type WorkerMessage =
  | { type: 'ready'; table: import('./core').DecodeTable }
  | { type: 'encoded'; id: number; enc: CoreEncoding }
  | { type: 'error'; id: number | null; message: string };

const port = parentPort;
if (port) {
  const data = workerData as { dir: string; gguf?: boolean };
  let core: TokenizerCore;
  const ready = (data.gguf ? loadGgufCore(data.dir) : Promise.resolve().then(() => loadCore(data.dir))).then(
    (loaded) => {
      core = loaded;
      const table = core.decodeTable();
      port.postMessage({ type: 'ready', table } satisfies WorkerMessage, [table.bytes.buffer as ArrayBuffer, table.offsets.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      port.postMessage({ type: 'error', id: null, message: (err as Error).message } satisfies WorkerMessage);
      process.exit(0);
    },
  );
  const handle = (req: WorkerRequest): void => {
    try {
      const enc = core.encode(req.text, req);
      port.postMessage({ type: 'encoded', id: req.id, enc } satisfies WorkerMessage, [
        enc.ids.buffer as ArrayBuffer,
        enc.starts.buffer as ArrayBuffer,
        enc.ends.buffer as ArrayBuffer,
        enc.flags.buffer as ArrayBuffer,
      ]);
    } catch (err) {
      port.postMessage({ type: 'error', id: req.id, message: (err as Error).message } satisfies WorkerMessage);
    }
  };
  port.on('message', (req: WorkerRequest) => void ready.then(() => handle(req)));
}
