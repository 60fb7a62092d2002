/** @file What a model path may be: a Hugging Face folder (config.json) or a GGUF file (magic "GGUF"; Ollama's blobs have no extension). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function isModelFileOrFolder(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      return fs.existsSync(path.join(p, 'config.json'));
    }
    if (!st.isFile()) {
      return false;
    }
    const fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    try {
      const head = Buffer.alloc(4);
      return fs.readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'GGUF';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
