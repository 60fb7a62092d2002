/** What `moe-lens info` prints: a model folder's family, size and memory plan, one fact a line. */
import { formatMb } from '../engine/memoryPlan';
import type { ModelSummary } from '../engine/modelSummary';

/** Bytes on disk: decimal GB as the Hub shows them, and MB of 2^20 as the memory figures. */
function bytes(n: number): string {
  return `${(n / 1e9).toFixed(2)} GB (${formatMb(n)})`;
}

function params(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${(n / 1e6).toFixed(1)} M`;
}

/** How the plan runs the model, in words: resident, streamed, or refused with why. Memory in MB of 2^20 bytes, as --max-memory takes it. */
export function planLine(s: ModelSummary): string {
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

export function formatModelInfo(s: ModelSummary): string {
  const p = s.plan;
  const rows: [string, string][] = [
    ['model', s.path],
    ['family', s.modelType],
    ['parameters', `${params(p.totalParams)} total, ${params(p.activeParams)} active per token`],
    ['layers', String(s.numLayers)],
    ['experts', `${s.numExperts}, k = ${s.topK}`],
    ['dtypes', p.dtypes.join(', ')],
    ['on disk', bytes(p.diskBytes)],
    ['memory', planLine(s)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(11)} ${v}`).join('\n');
}
