// A child like the engine whose worker thread is stuck in a read that never returns (a FIFO with
// no writer), as the engine's tokenizer worker was on a FIFO tokenizer.json. Forked by hostLink.test.ts.
import { Worker } from 'node:worker_threads';
import { exitWithHost } from '../../../src/engine/hostLink';

const fifo = process.argv[2];
const worker = new Worker(`require('node:fs').readFileSync(${JSON.stringify(fifo)})`, { eval: true });
worker.on('online', () => {
  exitWithHost();
  // The worker is online and about to block in open(2); the parent may now go away.
  setTimeout(() => process.send!('blocked'), 100);
});
