/**
 * @file Where a model comes from: a Hugging Face folder (config.json + safetensors) or a GGUF file
 * (config synthesised from its metadata, tensors under the family's names). Both give the config
 * object the family parses and a Checkpoint; the rest of the engine does not know which it was.
 */
import { openCheckpoint, type Checkpoint } from './checkpoint/checkpoint';
import { readModelConfig } from './checkpoint/modelFolder';
import { isGgufFile, openGgufModel } from './gguf/ggufModel';

export interface ModelSource {
  config: Record<string, unknown>;
  /** Opened lazily for folders (config problems are reported before any weight file is opened). */
  openCheckpoint(): Promise<Checkpoint>;
  /** Closes what was opened even when openCheckpoint was never called (a GGUF file is open from the start). */
  close(): Promise<void>;
}

export async function openModelSource(pathOrFile: string, opts: { checkFinite?: boolean } = {}): Promise<ModelSource> {
  if (await isGgufFile(pathOrFile)) {
    const gguf = await openGgufModel(pathOrFile, opts);
    return { config: gguf.config, openCheckpoint: () => Promise.resolve(gguf.checkpoint), close: () => gguf.checkpoint.close() };
  }
  const config = await readModelConfig(pathOrFile);
  return { config, openCheckpoint: () => openCheckpoint(pathOrFile, opts), close: () => Promise.resolve() };
}
