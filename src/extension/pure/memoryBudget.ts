/**
 * @file moeLens.memoryLimitMb as the engine process gets it: the planning budget, passed as
 * MOE_LENS_MAX_MEMORY_MB (the engine plans resident, streamed or refused within it, as the CLI's
 * --max-memory), and a higher ceiling for the RSS watchdog, which only catches a runaway process.
 */

/**
 * The watchdog's headroom above the budget: a quarter of it, at least 512 MB. The plan's figure is an
 * estimate ("holds about"), and garbage collection and the transient read-and-transpose copies can
 * overshoot it for a moment; measured peaks stayed below the budget (OLMoE-1B-7B shape: 2,260 MB of
 * 3,072; granite-1b streamed: 626 MB of 2,048), so the headroom is for the unplanned, not the plan.
 */
export function watchdogLimitMb(budgetMb: number): number {
  return budgetMb > 0 ? budgetMb + Math.max(512, Math.ceil(budgetMb / 4)) : 0;
}

/** The engine's environment: the budget set (0 = none: the engine's own default, three quarters of physical memory). */
export function engineEnv(base: NodeJS.ProcessEnv, budgetMb: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ELECTRON_RUN_AS_NODE: '1' };
  // The setting owns the budget: a value inherited from the editor's environment does not leak in.
  delete env.MOE_LENS_MAX_MEMORY_MB;
  if (budgetMb > 0) {
    env.MOE_LENS_MAX_MEMORY_MB = String(Math.round(budgetMb));
  }
  return env;
}
