/**
 * @file How often a crashed engine may be restarted automatically: at most `max` restarts within
 * a sliding `windowMs` (4 in 3 minutes). Past that the user restarts it by hand, so a model that
 * crashes on load does not fork processes forever.
 */
export class RestartLimiter {
  private readonly times: number[] = [];

  constructor(
    readonly max = 4,
    readonly windowMs = 3 * 60_000,
  ) {}

  /** Records a restart at `now` and returns true, or returns false (recording nothing) when the budget is spent. */
  tryRestart(now: number): boolean {
    while (this.times.length > 0 && now - this.times[0] >= this.windowMs) {
      this.times.shift();
    }
    if (this.times.length >= this.max) {
      return false;
    }
    this.times.push(now);
    return true;
  }

  /** Restarts counted in the window ending at `now`. */
  count(now: number): number {
    return this.times.filter((t) => now - t < this.windowMs).length;
  }

  /** A manual restart starts a fresh budget. */
  reset(): void {
    this.times.length = 0;
  }
}
