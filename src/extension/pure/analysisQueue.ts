/**
 * @file Per-document analysis queue: at most one analysis runs and one waits per key (document
 * uri). A newer submission replaces the waiting one; an edit cancels the running one (its result
 * would describe text that no longer exists). No VS Code here, so it is unit-tested directly.
 */

export type Outcome<T> =
  | { kind: 'done'; value: T }
  /** Aborted by cancel() or cancelRunning(). */
  | { kind: 'cancelled' }
  /** Replaced in the waiting slot by a newer submission before it started. */
  | { kind: 'superseded' }
  | { kind: 'failed'; error: unknown };

interface Entry<J, T> {
  job: J;
  resolve: (o: Outcome<T>) => void;
}

interface Slot<J, T> {
  running: { controller: AbortController; entry: Entry<J, T> } | null;
  waiting: Entry<J, T> | null;
}

export type Runner<J, T> = (key: string, job: J, signal: AbortSignal) => Promise<T>;

export class AnalysisQueue<J, T> {
  private readonly slots = new Map<string, Slot<J, T>>();

  constructor(private readonly runner: Runner<J, T>) {}

  /** Queues `job` for `key`; settles (never rejects) when it has run, failed, been cancelled or superseded. */
  submit(key: string, job: J): Promise<Outcome<T>> {
    return new Promise((resolve) => {
      const entry: Entry<J, T> = { job, resolve };
      const slot = this.slots.get(key) ?? { running: null, waiting: null };
      this.slots.set(key, slot);
      if (!slot.running) {
        this.start(key, slot, entry);
        return;
      }
      slot.waiting?.resolve({ kind: 'superseded' });
      slot.waiting = entry;
    });
  }

  /** Aborts the running analysis of `key` (the waiting one, if any, then starts). */
  cancelRunning(key: string): boolean {
    const running = this.slots.get(key)?.running;
    if (!running || running.controller.signal.aborted) {
      return false;
    }
    running.controller.abort();
    return true;
  }

  /** Drops the waiting analysis and aborts the running one. */
  cancel(key: string): boolean {
    const slot = this.slots.get(key);
    if (!slot) {
      return false;
    }
    const waiting = slot.waiting;
    slot.waiting = null;
    waiting?.resolve({ kind: 'cancelled' });
    return this.cancelRunning(key) || waiting !== null;
  }

  cancelAll(): void {
    for (const key of [...this.slots.keys()]) {
      this.cancel(key);
    }
  }

  isRunning(key: string): boolean {
    return !!this.slots.get(key)?.running;
  }

  /** Running plus waiting analyses over all keys (at most 2 per key). */
  get length(): number {
    let n = 0;
    for (const s of this.slots.values()) {
      n += (s.running ? 1 : 0) + (s.waiting ? 1 : 0);
    }
    return n;
  }

  private start(key: string, slot: Slot<J, T>, entry: Entry<J, T>): void {
    const controller = new AbortController();
    slot.running = { controller, entry };
    const finish = (outcome: Outcome<T>): void => {
      slot.running = null;
      entry.resolve(controller.signal.aborted && outcome.kind !== 'done' ? { kind: 'cancelled' } : outcome);
      const next = slot.waiting;
      slot.waiting = null;
      if (next) {
        this.start(key, slot, next);
      } else {
        this.slots.delete(key);
      }
    };
    let promise: Promise<T>;
    try {
      promise = this.runner(key, entry.job, controller.signal);
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => finish(controller.signal.aborted ? { kind: 'cancelled' } : { kind: 'done', value }),
      (error: unknown) => finish({ kind: 'failed', error }),
    );
  }
}
