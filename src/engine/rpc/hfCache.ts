/**
 * @file Finds model snapshots in the local Hugging Face hub cache (the layout huggingface_hub
 * writes: `models--org--name/snapshots/<rev>/…` with files linking into `blobs/`). Reads only
 * config.json of each snapshot, never weights.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CachedModel } from '../../shared/engineProtocol';
import { MAX_JSON_BYTES, readRegularFile } from '../files';

/** Where huggingface_hub keeps its cache: HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME|~/.cache/huggingface/hub. */
export function defaultHubDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) {
    return env.HF_HUB_CACHE;
  }
  if (env.HF_HOME) {
    return path.join(env.HF_HOME, 'hub');
  }
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'huggingface', 'hub');
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Experts and k from a config.json, under the key names the families use (text_config for multimodal ones). */
export function expertsFromConfig(config: Record<string, unknown>): { experts: number | null; topK: number | null } {
  const inner = config.text_config;
  const c = typeof inner === 'object' && inner !== null ? { ...config, ...(inner as Record<string, unknown>) } : config;
  const experts =
    num(c.num_local_experts) ?? num(c.num_experts) ?? num(c.n_routed_experts) ?? num(c.moe_num_experts) ?? null;
  let topK = num(c.num_experts_per_tok) ?? num(c.moe_top_k) ?? num(c.num_selected_experts) ?? null;
  if (topK === null && experts !== null && c.model_type === 'switch_transformers') {
    topK = 1;
  }
  return { experts, topK };
}

async function pickSnapshot(repoDir: string): Promise<string | null> {
  const snapshots = path.join(repoDir, 'snapshots');
  // refs/main names the revision the user last downloaded; fall back to the newest snapshot.
  try {
    const ref = (await readRegularFile(path.join(repoDir, 'refs', 'main'), { maxBytes: 1024, what: 'refs/main' })).toString('utf8').trim();
    if (/^[0-9a-f]{6,64}$/i.test(ref)) {
      await fs.access(path.join(snapshots, ref, 'config.json'));
      return path.join(snapshots, ref);
    }
  } catch {
    // no usable ref: take the newest
  }
  let best: { dir: string; mtime: number } | null = null;
  let revs: string[];
  try {
    revs = await fs.readdir(snapshots);
  } catch {
    return null;
  }
  for (const rev of revs) {
    const dir = path.join(snapshots, rev);
    try {
      const st = await fs.stat(path.join(dir, 'config.json'));
      if (!best || st.mtimeMs > best.mtime) {
        best = { dir, mtime: st.mtimeMs };
      }
    } catch {
      // snapshot without config.json: not a model we can show
    }
  }
  return best?.dir ?? null;
}

async function snapshotSize(dir: string): Promise<{ bytes: number; safetensors: boolean }> {
  let bytes = 0;
  let safetensors = false;
  const walk = async (d: string): Promise<void> => {
    for (const entry of await fs.readdir(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
        continue;
      }
      if (entry.name.endsWith('.safetensors')) {
        safetensors = true;
      }
      try {
        bytes += (await fs.stat(full)).size; // follows the link into blobs/
      } catch {
        // dangling link (partial download): counts as nothing
      }
    }
  };
  await walk(dir);
  return { bytes, safetensors };
}

/** Every `models--*` repo in hubDir with a snapshot holding config.json, sorted by repo id. */
export async function scanHubCache(hubDir: string): Promise<CachedModel[]> {
  let names: string[];
  try {
    names = await fs.readdir(hubDir);
  } catch {
    return [];
  }
  const out: CachedModel[] = [];
  for (const name of names) {
    if (!name.startsWith('models--')) {
      continue;
    }
    const snapshot = await pickSnapshot(path.join(hubDir, name));
    if (!snapshot) {
      continue;
    }
    let config: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse((await readRegularFile(path.join(snapshot, 'config.json'), { maxBytes: MAX_JSON_BYTES, what: 'config.json' })).toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        continue;
      }
      config = parsed as Record<string, unknown>;
    } catch {
      continue;
    }
    const { experts, topK } = expertsFromConfig(config);
    const { bytes, safetensors } = await snapshotSize(snapshot);
    out.push({
      repoId: name.slice('models--'.length).split('--').join('/'),
      path: snapshot,
      modelType: typeof config.model_type === 'string' ? config.model_type : 'unknown',
      experts,
      topK,
      sizeBytes: bytes,
      safetensors,
      format: safetensors ? 'safetensors' : null,
      source: 'huggingface',
    });
  }
  return out.sort((a, b) => a.repoId.localeCompare(b.repoId));
}
