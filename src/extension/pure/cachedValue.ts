/**
 * @file A value read lazily and kept until invalidated. Settings reads (workspace.getConfiguration
 * + get) cost tens of microseconds each; hot paths (one call per token while decorating) read
 * through this and the owner invalidates it on onDidChangeConfiguration.
 */
export interface CachedValue<T> {
  get(): T;
  invalidate(): void;
}

export function cachedValue<T>(read: () => T): CachedValue<T> {
  let has = false;
  let value: T | undefined;
  return {
    get(): T {
      if (!has) {
        value = read();
        has = true;
      }
      return value as T;
    },
    invalidate(): void {
      has = false;
      value = undefined;
    },
  };
}
