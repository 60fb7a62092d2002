/**
 * @file LM Studio's models folder: `downloadsFolder` in ~/.lmstudio/settings.json, else
 * ~/.lmstudio/models, else the older ~/.cache/lm-studio/models; laid out PUBLISHER/REPO/FILE.gguf.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CachedModel } from '../../shared/engineProtocol';
import { describeGguf, findGgufFiles } from './ggufFile';

/** `home`: the user's home folder (the engine passes its environment's HOME). */
export function defaultLmStudioDir(home: string = os.homedir()): string | null {
  try {
    const settings = JSON.parse(readFileSync(path.join(home, '.lmstudio', 'settings.json'), 'utf8')) as { downloadsFolder?: unknown };
    if (typeof settings.downloadsFolder === 'string' && existsSync(settings.downloadsFolder)) {
      return settings.downloadsFolder;
    }
  } catch {
    // no settings: the default folders
  }
  for (const dir of [path.join(home, '.lmstudio', 'models'), path.join(home, '.cache', 'lm-studio', 'models')]) {
    if (existsSync(dir)) {
      return dir;
    }
  }
  return null;
}

/** Every GGUF model in the folder, named PUBLISHER/REPO/FILE.gguf. */
export async function scanLmStudio(dir: string): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const { file, rel } of await findGgufFiles(dir, 2)) {
    const entry = await describeGguf(file, rel, 'lmstudio');
    if (entry) {
      out.push(entry);
    }
  }
  return out;
}
