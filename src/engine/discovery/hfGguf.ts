/**
 * @file GGUF files in the Hugging Face hub cache: repositories of quantised models
 * (`…-GGUF`) have no config.json, only .gguf files (sometimes one folder per quantisation), so they
 * are found by file name in the snapshot refs/main names, else the newest.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { CachedModel } from '../../shared/engineProtocol';
import { describeGguf, findGgufFiles } from './ggufFile';

async function snapshotOf(repoDir: string): Promise<string | null> {
  const snapshots = path.join(repoDir, 'snapshots');
  try {
    const ref = (await fsp.readFile(path.join(repoDir, 'refs', 'main'), 'utf8')).trim();
    if (/^[0-9a-f]{6,64}$/i.test(ref)) {
      await fsp.access(path.join(snapshots, ref));
      return path.join(snapshots, ref);
    }
  } catch {
    // no usable ref: the newest snapshot
  }
  let best: { dir: string; mtime: number } | null = null;
  try {
    for (const rev of await fsp.readdir(snapshots)) {
      const st = await fsp.stat(path.join(snapshots, rev));
      if (!best || st.mtimeMs > best.mtime) {
        best = { dir: path.join(snapshots, rev), mtime: st.mtimeMs };
      }
    }
  } catch {
    return null;
  }
  return best?.dir ?? null;
}

/** Every GGUF model file in the cache, named ORG/NAME/FILE.gguf, sorted. */
export async function scanHubGguf(hubDir: string): Promise<CachedModel[]> {
  let names: string[];
  try {
    names = await fsp.readdir(hubDir);
  } catch {
    return [];
  }
  const out: CachedModel[] = [];
  for (const name of names.filter((n) => n.startsWith('models--')).sort()) {
    const snapshot = await snapshotOf(path.join(hubDir, name));
    if (!snapshot) {
      continue;
    }
    const repoId = name.slice('models--'.length).split('--').join('/');
    for (const { file, rel } of await findGgufFiles(snapshot, 2)) {
      const entry = await describeGguf(file, `${repoId}/${rel}`, 'huggingface');
      if (entry) {
        out.push(entry);
      }
    }
  }
  return out;
}
