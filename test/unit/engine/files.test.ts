/**
 * Every file read whole goes through readRegularFile(Sync): a FIFO, a device or a directory is
 * refused at once (opening a FIFO for reading would otherwise wait for a writer for ever), and a
 * file over its limit is refused with the limit in the message.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { FileReadError, readRegularFile, readRegularFileSync, readStreamWhole } from '../../../src/engine/files';

const root = mkdtempSync(join(tmpdir(), 'moe-lens-files-'));
after(() => rmSync(root, { recursive: true, force: true }));

const fifo = join(root, 'fifo');
execFileSync('mkfifo', [fifo]);
const limits = { maxBytes: 1000, what: 'the test file' };

const readers: [string, (file: string, l: typeof limits) => Promise<Buffer> | Buffer][] = [
  ['readRegularFile', readRegularFile],
  ['readRegularFileSync', readRegularFileSync],
];

for (const [name, read] of readers) {
  describe(name, () => {
    const refused = async (file: string, message: RegExp): Promise<void> => {
      await assert.rejects(async () => read(file, limits), (err: Error) => err instanceof FileReadError && message.test(err.message));
    };

    it('reads a regular file whole', async () => {
      const file = join(root, `ok-${name}`);
      writeFileSync(file, 'x'.repeat(1000));
      assert.equal((await read(file, limits)).toString(), 'x'.repeat(1000));
    });

    it('refuses a FIFO without waiting for a writer', () => refused(fifo, /fifo: the test file is a FIFO \(named pipe\); only regular files are read$/));
    it('refuses /dev/zero instead of reading it for ever', () => refused('/dev/zero', /^\/dev\/zero: the test file is a character device/));
    it('refuses a directory', () => refused(root, /is a directory/));
    it('refuses a missing file', () => refused(join(root, 'nope'), /the test file not found/));

    it('refuses a file over the limit before reading it, stating the limit', async () => {
      const file = join(root, `big-${name}`);
      writeFileSync(file, '');
      truncateSync(file, 5 * 1024 * 1024); // sparse: no 5 MB written
      await refused(file, /the test file is 5 MB, over the 1000 bytes limit/);
    });

    it('stops at the limit when the size is not known up front (/proc files say 0)', async () => {
      await assert.rejects(async () => read('/proc/self/maps', { maxBytes: 10, what: 'maps' }), /maps is larger than the 10 bytes limit/);
      assert.ok((await read('/proc/self/maps', { maxBytes: 1 << 20, what: 'maps' })).length > 10);
    });
  });
}

describe('readStreamWhole (standard input for --file -)', () => {
  it('reads a stream under the limit', async () => {
    assert.equal((await readStreamWhole(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 'stdin', limits)).toString(), 'abcd');
  });
  it('refuses a stream past the limit without reading the rest', async () => {
    let pulled = 0;
    const endless = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(600));
      },
    });
    await assert.rejects(readStreamWhole(endless, 'standard input', limits), (err: Error) => err instanceof FileReadError && err.message === 'standard input: the test file is larger than the 1000 bytes limit');
    assert.ok(pulled < 10);
  });
});
