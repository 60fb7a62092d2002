/**
 * @file What Select Model shows about a GGUF file without reading a weight: its architecture (as our
 * model_type), experts and k from the metadata, and its size on disk (all splits).
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { CachedModel } from '../../shared/engineProtocol';
import { metaInt, metaString } from '../checkpoint/gguf/metadata';
import { ggufSplitFiles } from '../checkpoint/gguf/open';
import { readGgufMetadata } from '../checkpoint/gguf/reader';
import { GGUF_ARCHITECTURES } from '../gguf/archConfig';

/** llama.cpp's split naming; only the first split names a model. */
const SPLIT = /-(\d{5})-of-(\d{5})\.gguf$/;

/** Whether a directory entry names a GGUF model to list: `*.gguf`, the first of its splits, not a vision projector. */
export function isListedGgufName(name: string): boolean {
  if (!name.toLowerCase().endsWith('.gguf') || /mmproj/i.test(name)) {
    return false;
  }
  const m = SPLIT.exec(name);
  return !m || Number(m[1]) === 1;
}

/** The entry for a GGUF file, or null when it is not a readable GGUF model (listed files never throw). */
export async function describeGguf(file: string, name: string, source: CachedModel['source']): Promise<CachedModel | null> {
  try {
    const fh = await fsp.open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    let meta;
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        return null;
      }
      meta = (await readGgufMetadata(fh, file, st.size)).metadata; // vocabularies stepped over, not decoded
    } finally {
      await fh.close();
    }
    let bytes = 0;
    for (const f of await ggufSplitFiles(file)) {
      bytes += (await fsp.stat(f)).size;
    }
    const arch = metaString(meta, 'general.architecture') ?? 'unknown';
    const experts = metaInt(meta, `${arch}.expert_count`) ?? 0;
    return {
      repoId: name,
      path: file,
      modelType: GGUF_ARCHITECTURES[arch] ?? arch,
      experts: experts > 0 ? experts : null,
      topK: experts > 0 ? (metaInt(meta, `${arch}.expert_used_count`) ?? null) : null,
      sizeBytes: bytes,
      safetensors: false,
      format: 'gguf',
      source,
    };
  } catch {
    return null;
  }
}

/** Every listed GGUF file under `dir`, `depth` folder levels down at most, named by its path relative to `dir`. */
export async function findGgufFiles(dir: string, depth: number): Promise<{ file: string; rel: string }[]> {
  const out: { file: string; rel: string }[] = [];
  const walk = async (d: string, left: number): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, e.name);
      if (e.isDirectory() && left > 0) {
        await walk(full, left - 1);
      } else if ((e.isFile() || e.isSymbolicLink()) && isListedGgufName(e.name)) {
        out.push({ file: full, rel: path.relative(dir, full).split(path.sep).join('/') });
      }
    }
  };
  await walk(dir, depth);
  return out;
}
