/**
 * @file The model folder: config.json, which weight files are there, and keeping every file we open
 * inside the folder.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MAX_JSON_BYTES, decodeUtf8, readRegularFile } from '../files';
import { CheckpointError, checkpointError } from './errors';
import { JsonSyntaxError, isJsonObject, parseStrictJson, type JsonValue } from './strictJson';

export { CheckpointError } from './errors';

/** Weight formats we refuse: pickle-based (loading them can execute arbitrary code). */
const PICKLE_EXT = ['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle'];

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

export interface FolderListing {
  safetensors: string[];
  hasIndex: boolean;
  pickles: string[];
}

/** Throws a CheckpointError unless `dir` is an existing directory. */
export async function assertDirectory(dir: string): Promise<void> {
  let st;
  try {
    st = await fsp.stat(dir);
  } catch (e) {
    throw new CheckpointError(`${dir}: model folder not found (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file: dir });
  }
  if (!st.isDirectory()) {
    throw new CheckpointError(`${dir}: not a folder (give the folder that holds config.json and the .safetensors files)`, { file: dir });
  }
}

export async function listWeightFiles(dir: string): Promise<FolderListing> {
  const names = (await fsp.readdir(dir)).sort();
  return {
    safetensors: names.filter((n) => n.endsWith('.safetensors')),
    hasIndex: names.includes(INDEX_FILE),
    pickles: names.filter((n) => PICKLE_EXT.some((ext) => n.endsWith(ext)) || n.endsWith('.bin.index.json')),
  };
}

/** The explanation given whenever only pickle weights are found. */
export function pickleRefusal(dir: string, pickles: string[]): CheckpointError {
  const shown = pickles.slice(0, 3).join(', ') + (pickles.length > 3 ? ', …' : '');
  return new CheckpointError(
    `${dir}: only PyTorch pickle weights found (${shown}) and no .safetensors files. MoE Lens never loads pickle ` +
      'files, because unpickling can run arbitrary code. Convert the checkpoint to safetensors first, e.g. in Python: ' +
      "AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out_dir, safe_serialization=True).",
    { file: path.join(dir, pickles[0]) },
  );
}

/**
 * Resolves `name` (from the folder listing or an index file) to a path that stays inside `dir`.
 * Only plain file names are accepted. Symlinks are followed and must land inside the folder, with
 * one exception: a Hugging Face hub cache snapshot (…/snapshots/REV/) links to …/blobs/, which is
 * where the real files live.
 */
export async function resolveInside(dir: string, name: string, referencedBy: string): Promise<string> {
  const bad = (what: string) => new CheckpointError(`${referencedBy}: shard path ${JSON.stringify(name)} ${what}`, { file: referencedBy });
  if (name.length === 0) {
    throw bad('is empty');
  }
  if (name.includes('\0')) {
    throw bad('contains a NUL character');
  }
  if (path.isAbsolute(name) || path.win32.isAbsolute(name)) {
    throw bad('is absolute; shards must be plain file names inside the model folder');
  }
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
    throw bad('is not a plain file name; shards must be files directly inside the model folder');
  }
  const full = path.join(dir, name);
  let real: string;
  let realDir: string;
  try {
    realDir = await fsp.realpath(dir);
    real = await fsp.realpath(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(`${referencedBy}: shard ${JSON.stringify(name)} not found in ${dir} (${code ?? String(e)})`, { file: full });
  }
  const inside = (root: string) => real === root || real.startsWith(root + path.sep);
  const hubBlobs = path.basename(path.dirname(realDir)) === 'snapshots' ? path.join(path.dirname(path.dirname(realDir)), 'blobs') : null;
  if (!inside(realDir) && !(hubBlobs !== null && inside(hubBlobs))) {
    throw new CheckpointError(`${referencedBy}: shard ${JSON.stringify(name)} is a link to ${real}, outside the model folder ${realDir}`, { file: full });
  }
  const st = await fsp.stat(real);
  if (!st.isFile()) {
    throw new CheckpointError(`${full}: not a regular file`, { file: full });
  }
  return full;
}

/** Reads a small JSON file strictly (duplicate keys are errors), bounded in size, regular files only. */
export async function readJsonFile(file: string, what: string): Promise<JsonValue> {
  let text: string;
  try {
    text = decodeUtf8(await readRegularFile(file, { maxBytes: MAX_JSON_BYTES, what }), file, what);
  } catch (e) {
    throw new CheckpointError((e as Error).message, { file });
  }
  try {
    return parseStrictJson(text, { maxDepth: 64 });
  } catch (e) {
    if (e instanceof JsonSyntaxError) {
      throw new CheckpointError(`${file}: ${what} is not valid JSON: ${e.message}`, { file });
    }
    throw e;
  }
}

/**
 * Reads config.json as a plain object. Refuses a folder whose only weights are pickles (before
 * looking at the config, since that is the real problem there). Field meaning and defaults are the
 * family code's job.
 */
export async function readModelConfig(dir: string): Promise<Record<string, unknown>> {
  await assertDirectory(dir);
  const listing = await listWeightFiles(dir);
  if (listing.safetensors.length === 0 && listing.pickles.length > 0) {
    throw pickleRefusal(dir, listing.pickles);
  }
  const file = path.join(dir, 'config.json');
  const json = await readJsonFile(file, 'config.json');
  if (!isJsonObject(json)) {
    throw checkpointError(file, undefined, `config.json must be a JSON object, found ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  }
  return json;
}
