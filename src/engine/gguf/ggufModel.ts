/**
 * @file A GGUF file as a model: its config.json synthesised from the metadata (archConfig.ts) and its
 * tensors under Hugging Face names (tensorMap.ts, mappedCheckpoint.ts), so `loadModel` runs it through
 * the same family, memory plan and streaming as a safetensors folder.
 */
import { promises as fsp } from 'node:fs';
import { metaInt } from '../checkpoint/gguf/metadata';
import { openGgufCheckpoint } from '../checkpoint/gguf/open';
import { GGUF_MAGIC } from '../checkpoint/gguf/types';
import { ggufArchitecture, ggufToHfConfig } from './archConfig';
import { MappedGgufCheckpoint } from './mappedCheckpoint';
import { mapTensors } from './tensorMap';

/**
 * Whether `p` is a GGUF file: a regular file that starts with the magic "GGUF" (Ollama's blobs have
 * no extension). A folder, a missing path or anything else is not.
 */
export async function isGgufFile(p: string): Promise<boolean> {
  let fh: fsp.FileHandle | undefined;
  try {
    const st = await fsp.stat(p);
    if (!st.isFile()) {
      return false;
    }
    fh = await fsp.open(p, 'r');
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return bytesRead === 4 && head.readUInt32LE(0) === GGUF_MAGIC;
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

export interface GgufModel {
  /** The config.json a safetensors copy of this model would have (as far as the family reads it). */
  config: Record<string, unknown>;
  /** llama.cpp's architecture name (general.architecture). */
  arch: string;
  checkpoint: MappedGgufCheckpoint;
}

/** Opens `file` (and its splits), validates the headers and maps metadata and tensors to the family's names. */
export async function openGgufModel(file: string, opts: { checkFinite?: boolean } = {}): Promise<GgufModel> {
  const gguf = await openGgufCheckpoint(file, { checkFinite: opts.checkFinite });
  try {
    const meta = gguf.ggufMetadata;
    const arch = ggufArchitecture(meta, file);
    const names = gguf.names();
    const config = ggufToHfConfig(meta, names, (n) => (gguf.has(n) ? gguf.info(n).shape : undefined), file);
    const numHeads = metaInt(meta, `${arch}.attention.head_count`) ?? 0;
    const numKvHeads = metaInt(meta, `${arch}.attention.head_count_kv`) ?? numHeads;
    const views = mapTensors(names, (n) => gguf.info(n), { arch, numHeads, numKvHeads });
    return { config, arch, checkpoint: new MappedGgufCheckpoint(gguf, views, opts.checkFinite ?? false) };
  } catch (e) {
    await gguf.close();
    throw e;
  }
}
