import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnalysisQueue } from '../../../src/extension/pure/analysisQueue';
import { RestartLimiter } from '../../../src/extension/pure/restartLimiter';

/** A runner whose jobs finish when the test says so. */
function controlled() {
  const started: { key: string; job: string; signal: AbortSignal; finish: (v: string) => void; fail: (e: Error) => void }[] = [];
  const queue = new AnalysisQueue<string, string>(
    (key, job, signal) =>
      new Promise((resolve, reject) => {
        started.push({ key, job, signal, finish: resolve, fail: reject });
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      }),
  );
  return { queue, started };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('AnalysisQueue', () => {
  it('runs one per key, keeps one waiting, and supersedes the waiting one', async () => {
    const { queue, started } = controlled();
    const a = queue.submit('doc', 'v1');
    const b = queue.submit('doc', 'v2');
    const c = queue.submit('doc', 'v3');
    assert.equal(started.length, 1);
    assert.equal(queue.length, 2);
    assert.deepEqual(await b, { kind: 'superseded' });
    started[0].finish('r1');
    assert.deepEqual(await a, { kind: 'done', value: 'r1' });
    await tick();
    assert.equal(started.length, 2);
    assert.equal(started[1].job, 'v3');
    started[1].finish('r3');
    assert.deepEqual(await c, { kind: 'done', value: 'r3' });
    assert.equal(queue.length, 0);
  });

  it('runs different documents side by side', () => {
    const { queue, started } = controlled();
    void queue.submit('a', '1');
    void queue.submit('b', '1');
    assert.deepEqual(started.map((s) => s.key), ['a', 'b']);
  });

  it('an edit cancels the running analysis and the waiting one starts', async () => {
    const { queue, started } = controlled();
    const a = queue.submit('doc', 'v1');
    const b = queue.submit('doc', 'v2');
    assert.equal(queue.cancelRunning('doc'), true);
    assert.equal(started[0].signal.aborted, true);
    assert.deepEqual(await a, { kind: 'cancelled' });
    await tick();
    assert.equal(started[1].job, 'v2');
    started[1].finish('ok');
    assert.deepEqual(await b, { kind: 'done', value: 'ok' });
  });

  it('cancel() drops the waiting job too', async () => {
    const { queue, started } = controlled();
    const a = queue.submit('doc', 'v1');
    const b = queue.submit('doc', 'v2');
    assert.equal(queue.cancel('doc'), true);
    assert.deepEqual(await b, { kind: 'cancelled' });
    assert.deepEqual(await a, { kind: 'cancelled' });
    await tick();
    assert.equal(started.length, 1);
    assert.equal(queue.length, 0);
    assert.equal(queue.cancel('doc'), false);
  });

  it('reports failures without rejecting, then moves on', async () => {
    const { queue, started } = controlled();
    const a = queue.submit('doc', 'v1');
    const b = queue.submit('doc', 'v2');
    started[0].fail(new Error('engine crashed'));
    const out = await a;
    assert.equal(out.kind, 'failed');
    assert.match(String((out as { error: Error }).error.message), /crashed/);
    await tick();
    started[1].finish('ok');
    assert.deepEqual(await b, { kind: 'done', value: 'ok' });
  });

  it('a runner that throws synchronously fails its job only', async () => {
    const queue = new AnalysisQueue<string, string>(() => {
      throw new Error('sync');
    });
    const out = await queue.submit('k', 'j');
    assert.equal(out.kind, 'failed');
    assert.equal(queue.length, 0);
  });

  it('does not grow under a burst of submissions (10 edits: at most 2 held)', async () => {
    const { queue, started } = controlled();
    const outs = Array.from({ length: 10 }, (_, i) => queue.submit('doc', `v${i}`));
    assert.equal(queue.length, 2);
    started[0].finish('first');
    await tick();
    started[1].finish('last');
    const kinds = (await Promise.all(outs)).map((o) => o.kind);
    assert.deepEqual(kinds, ['done', ...Array(8).fill('superseded'), 'done']);
    assert.equal(started[1].job, 'v9');
  });
});

describe('RestartLimiter', () => {
  it('allows 4 restarts in 3 minutes, then refuses until the oldest leaves the window', () => {
    const l = new RestartLimiter(4, 180_000);
    assert.deepEqual([0, 10, 20, 30].map((t) => l.tryRestart(t * 1000)), [true, true, true, true]);
    assert.equal(l.tryRestart(40_000), false);
    assert.equal(l.count(40_000), 4);
    assert.equal(l.tryRestart(179_999), false);
    assert.equal(l.tryRestart(180_000), true); // the restart at 0 s has left the window
    l.reset();
    assert.equal(l.count(180_000), 0);
  });
});
