/**
 * @file The longest delay a timer can have. Node's setTimeout treats any delay over 2^31 − 1 ms
 * (about 24.8 days) as 1 ms, so a "very long" timeout would fire at once: every timeout the user
 * can set is checked or clamped against this.
 */

export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A user-given timeout in ms as a positive integer within the timer range; otherwise the error says what is allowed. */
export function checkTimeoutMs(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw new RangeError(`${name} must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (about 24.8 days), got ${value}`);
  }
  return value;
}
