/**
 * @file "Does this path lie in that folder?", the Workspace Trust check of the engine (server.ts)
 * and the extension (Select Model): whole path segments, not string prefixes (a folder named
 * `..evil` is inside), symlinks resolved, and case folded where file systems usually ignore case.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** True when `child` is `root` or inside it; both absolute and already resolved. */
export function isInside(child: string, root: string, platform: NodeJS.Platform = process.platform): boolean {
  const p = platform === 'win32' ? path.win32 : path.posix;
  // Windows and macOS volumes ignore case by default: MODELS\x and models\x are one folder.
  const fold = (s: string): string => (platform === 'win32' || platform === 'darwin' ? s.toLowerCase() : s);
  const rel = p.relative(fold(root), fold(child));
  if (rel === '') {
    return true;
  }
  // Absolute: another drive on Windows.
  return !p.isAbsolute(rel) && rel.split(p.sep)[0] !== '..';
}

/** `p` with every symlink resolved; the plain resolved path when it does not exist. */
export async function realpathOr(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return path.resolve(p);
  }
}

/** The first of `roots` that `child` lies in once symlinks are resolved, or undefined. */
export async function rootContaining(child: string, roots: readonly string[]): Promise<string | undefined> {
  const real = await realpathOr(child);
  for (const root of roots) {
    if (isInside(real, await realpathOr(root))) {
      return root;
    }
  }
  return undefined;
}
