/**
 * @file The one place a long document's window size and overlap are decided, from the settings
 * (`moeLens.maxTokensPerWindow`, `moeLens.windowOverlap`, or the CLI's defaults) and the loaded
 * model's context. The host and the CLI pass the settings as given; the engine resolves them here.
 */

/** What a user sets. */
export interface WindowSettings {
  /** Tokens per forward pass; 0 = the model's context (at most DEFAULT_MAX_WINDOW). */
  maxTokensPerWindow: number;
  /** Tokens of left context repeated at the start of each later window. */
  windowOverlap: number;
}

/** The defaults package.json declares for the two settings (a test holds them equal). */
export const DEFAULT_WINDOW_SETTINGS: Readonly<WindowSettings> = Object.freeze({ maxTokensPerWindow: 0, windowOverlap: 32 });

/**
 * Default window cap: attention holds a [T, T] float32 score matrix per head, and the wasm heap is
 * limited to 4 GB, so long-context models are still run in windows of this many tokens by default.
 */
export const DEFAULT_MAX_WINDOW = 4096;

export interface ResolvedWindows {
  size: number;
  overlap: number;
}

/**
 * Window size and overlap for a model with `maxContext` tokens of context. The overlap is at most
 * half a window, so every window moves on by at least half its size whatever the settings say.
 */
export function resolveWindows(settings: Partial<WindowSettings>, context: { maxContext: number }): ResolvedWindows {
  const wanted = whole(settings.maxTokensPerWindow, DEFAULT_WINDOW_SETTINGS.maxTokensPerWindow);
  const size = Math.max(1, Math.min(wanted > 0 ? wanted : DEFAULT_MAX_WINDOW, Math.floor(context.maxContext)));
  const overlap = Math.min(whole(settings.windowOverlap, DEFAULT_WINDOW_SETTINGS.windowOverlap), Math.floor(size / 2));
  return { size, overlap };
}

/** A non-negative integer from a setting, or the default for anything else. */
function whole(v: number | undefined, def: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : def;
}
