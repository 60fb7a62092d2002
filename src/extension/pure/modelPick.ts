/**
 * @file Select Model's list entries: what the Hugging Face cache scan knows (config.json) and, once
 * the engine has read the headers, the same facts `moe-lens info` prints: parameters total and
 * active, bytes on disk, and whether the model is held in memory, streamed from disk, or needs more
 * than the budget.
 */
import type { CachedModel, DescribedModel } from '../../shared/engineProtocol';
import { formatParams, planBrief } from '../../shared/modelPlanText';

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** The entry's description: family, experts and k, parameters (once described), size on disk. */
export function modelDescription(m: Pick<CachedModel, 'modelType' | 'experts' | 'topK' | 'sizeBytes'>, d: DescribedModel | undefined, current: boolean): string {
  const info = d?.info;
  const experts = info ? `${info.numExperts} experts, k=${info.topK}` : `${m.experts ?? 'dense'}${m.experts ? ' experts' : ''}${m.topK ? `, k=${m.topK}` : ''}`;
  const params = info ? ` · ${formatParams(info.plan.totalParams)} params, ${formatParams(info.plan.activeParams)} active` : '';
  const size = formatBytes(info ? info.plan.diskBytes : m.sizeBytes);
  return `${info?.modelType ?? m.modelType} · ${experts}${params} · ${size}${current ? ' · current' : ''}`;
}

/** The entry's second line: how it runs within the budget (or why not), then the folder. */
export function modelDetail(folder: string, d: DescribedModel | undefined, safetensors = true): string {
  if (!safetensors) {
    return `${folder} — no .safetensors weights (not supported)`;
  }
  if (d?.info) {
    return `${planBrief(d.info.plan)} — ${folder}`;
  }
  return d?.error ? `${folder} — ${d.error}` : folder;
}
