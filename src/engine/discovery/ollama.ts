/**
 * @file Ollama's model store: `OLLAMA_MODELS`, else `~/.ollama/models`, else the Linux service's
 * `/usr/share/ollama/.ollama/models`. Each manifest (manifests/HOST/NAMESPACE/MODEL/TAG, JSON) lists
 * layers; the one of media type application/vnd.ollama.image.model is the GGUF file, stored as
 * blobs/sha256-HEX. Models are listed as Ollama names them: `qwen3:30b-a3b`, `user/model:tag`.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CachedModel } from '../../shared/engineProtocol';
import { MAX_JSON_BYTES, readRegularFile } from '../files';
import { describeGguf } from './ggufFile';

export const OLLAMA_MODEL_MEDIA_TYPE = 'application/vnd.ollama.image.model';

/** The store Ollama uses: OLLAMA_MODELS, else the first of ~/.ollama/models and the service's that exists. */
export function defaultOllamaDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.OLLAMA_MODELS) {
    return env.OLLAMA_MODELS;
  }
  for (const dir of [path.join(os.homedir(), '.ollama', 'models'), '/usr/share/ollama/.ollama/models']) {
    if (existsSync(dir)) {
      return dir;
    }
  }
  return null;
}

/** The name Ollama shows for a manifest path HOST/NAMESPACE/MODEL/TAG. */
export function ollamaName(parts: readonly string[]): string {
  const [host, namespace, model, tag] = parts;
  const base = host === 'registry.ollama.ai' ? (namespace === 'library' ? model : `${namespace}/${model}`) : `${host}/${namespace}/${model}`;
  return `${base}:${tag}`;
}

/** The model blob a manifest names, or null (no model layer, a malformed digest, a missing blob). */
export async function modelBlobOf(storeDir: string, manifestFile: string): Promise<string | null> {
  let manifest: unknown;
  try {
    manifest = JSON.parse((await readRegularFile(manifestFile, { maxBytes: MAX_JSON_BYTES, what: 'Ollama manifest' })).toString('utf8'));
  } catch {
    return null;
  }
  const layers = (manifest as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) {
    return null;
  }
  const layer = layers.find((l): l is { digest: string } => typeof l === 'object' && l !== null && (l as { mediaType?: unknown }).mediaType === OLLAMA_MODEL_MEDIA_TYPE);
  // A digest is sha256:HEX; anything else could name a path outside the store.
  const m = layer && typeof layer.digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(layer.digest) : null;
  if (!m) {
    return null;
  }
  const blob = path.join(storeDir, 'blobs', `sha256-${m[1]}`);
  return existsSync(blob) ? blob : null;
}

/** Every model in the store whose model layer is a readable GGUF file, sorted by name. */
export async function scanOllama(storeDir: string): Promise<CachedModel[]> {
  const root = path.join(storeDir, 'manifests');
  const out: CachedModel[] = [];
  const walk = async (dir: string, parts: string[]): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory() && parts.length < 3) {
        await walk(full, [...parts, e.name]);
      } else if (e.isFile() && parts.length === 3) {
        const blob = await modelBlobOf(storeDir, full);
        const entry = blob ? await describeGguf(blob, ollamaName([...parts, e.name]), 'ollama') : null;
        if (entry) {
          out.push(entry);
        }
      }
    }
  };
  await walk(root, []);
  return out.sort((a, b) => a.repoId.localeCompare(b.repoId));
}
