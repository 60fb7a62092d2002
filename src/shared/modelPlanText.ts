/**
 * @file A model's size and memory plan in words, as `moe-lens info` prints it and Select Model lists
 * it: one definition, so both say the same. The figures are the engine's (memoryPlan.ts, from the
 * checkpoint headers alone); this file only words them.
 */

export type MemoryMode = 'resident' | 'streamed' | 'refused';

/** The memory plan's figures that cross to the extension (the engine's MemoryPlan has these and more). */
export interface PlanFacts {
  mode: MemoryMode;
  /** Why it cannot run (mode 'refused'): the minimum it needs, or the backend's heap it exceeds. */
  refusal: string | null;
  /** What the plan had to stay within (`maxMemoryBytes`, default three quarters of physical memory). */
  budgetBytes: number;
  /** Every tensor in the checkpoint's files. */
  diskBytes: number;
  /** The tensors the forward pass uses, at their stored precision: held when resident, what a streamed run reads per window. */
  storedBytes: number;
  dtypes: string[];
  totalParams: number;
  /** Parameters one token runs through: everything but the routed experts, plus k of E of them. */
  activeParams: number;
  /** Needed to run at all, streamed: runtime + largest layer + read-ahead + activations. */
  minimumBytes: number;
  /** What the run will hold at its peak, about: minimum + stored (when resident) + cache + wider expert groups. */
  holdBytes: number;
  /** Widened layers kept between runs (resident only). */
  cachedLayers: number;
}

/** A model folder as the engine describes it from its headers (modelSummary.ts's ModelSummary has this shape). */
export interface ModelPlanInfo {
  path: string;
  modelType: string;
  numLayers: number;
  numExperts: number;
  topK: number;
  plan: PlanFacts;
}

const MB = 2 ** 20;

/** Memory in MB of 2^20 bytes, rounded up, as --max-memory and moeLens.memoryLimitMb take it. */
export function formatMb(bytes: number): string {
  return `${Math.ceil(bytes / MB)} MB`;
}

/** Bytes on disk: decimal GB as the Hub shows them, and MB of 2^20 as the memory figures. */
function bytes(n: number): string {
  return `${(n / 1e9).toFixed(2)} GB (${formatMb(n)})`;
}

export function formatParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${(n / 1e6).toFixed(1)} M`;
}

/** How the plan runs the model, in words: resident, streamed, or refused with why. */
export function planLine(s: ModelPlanInfo): string {
  const p = s.plan;
  const budget = `a budget of ${formatMb(p.budgetBytes)}`;
  switch (p.mode) {
    case 'resident':
      return `resident: holds about ${formatMb(p.holdBytes)} of ${budget} (weights at their stored precision; ${p.cachedLayers} of ${s.numLayers} layers kept widened to float32)`;
    case 'streamed':
      return `streamed: reads each layer from disk as the run reaches it, holding about ${formatMb(p.holdBytes)} of ${budget} (minimum ${formatMb(p.minimumBytes)})`;
    case 'refused':
      return `refused: ${p.refusal ?? ''}`;
  }
}

/** The plan in a few words, for a list entry: "streamed, ≈ 2260 MB of 3072 MB" or "needs at least 1282 MB (budget 1024 MB)". */
export function planBrief(p: PlanFacts): string {
  switch (p.mode) {
    case 'resident':
      return `resident, ≈ ${formatMb(p.holdBytes)} of ${formatMb(p.budgetBytes)}`;
    case 'streamed':
      return `streamed from disk, ≈ ${formatMb(p.holdBytes)} of ${formatMb(p.budgetBytes)}`;
    case 'refused':
      return p.budgetBytes < p.minimumBytes ? `needs at least ${formatMb(p.minimumBytes)} (budget ${formatMb(p.budgetBytes)})` : 'refused: too big for this backend';
  }
}

/** What `moe-lens info` prints: one fact a line. */
export function formatModelInfo(s: ModelPlanInfo): string {
  const p = s.plan;
  const rows: [string, string][] = [
    ['model', s.path],
    ['family', s.modelType],
    ['parameters', `${formatParams(p.totalParams)} total, ${formatParams(p.activeParams)} active per token`],
    ['layers', String(s.numLayers)],
    ['experts', `${s.numExperts}, k = ${s.topK}`],
    ['dtypes', p.dtypes.join(', ')],
    ['on disk', bytes(p.diskBytes)],
    ['memory', planLine(s)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(11)} ${v}`).join('\n');
}
