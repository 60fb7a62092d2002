/**
 * @file model_type → family. The one table the loader consults; adding a family is a new file in
 * families/ plus one line here.
 */
import type { FamilyDef } from './family';
import { family as deepseek_v3 } from './families/deepseek_v3';
import { family as gpt_oss } from './families/gpt_oss';
import { family as granitemoe } from './families/granitemoe';
import { family as mixtral } from './families/mixtral';
import { family as olmoe } from './families/olmoe';
import { family as qwen2_moe } from './families/qwen2_moe';
import { family as qwen3_moe } from './families/qwen3_moe';

/** Families by `model_type` as written in config.json. */
export const FAMILIES: ReadonlyMap<string, FamilyDef> = new Map<string, FamilyDef>(
  ([mixtral, qwen2_moe, qwen3_moe, olmoe, granitemoe, deepseek_v3, gpt_oss] as FamilyDef[]).map((f) => [f.modelType, f]),
);

/** Alternative spellings seen in the wild → the model_type that reads them. */
export const MODEL_TYPE_ALIASES: Readonly<Record<string, string>> = Object.freeze({});

export function supportedModelTypes(): string[] {
  return [...FAMILIES.keys()].sort();
}

/** The family for a config's model_type, or a clear error naming config.json and listing what is supported. */
export function familyFor(modelType: unknown): FamilyDef {
  const supported = `supported model types: ${supportedModelTypes().join(', ')}`;
  if (modelType === undefined || modelType === null || modelType === '') {
    throw new Error(`config.json has no 'model_type'; ${supported}`);
  }
  if (typeof modelType !== 'string') {
    // Strict JSON reads big integers as bigint, which JSON.stringify refuses.
    const shown = typeof modelType === 'bigint' ? String(modelType) : JSON.stringify(modelType).slice(0, 60);
    throw new Error(`config.json: model_type ${shown} is not a string; ${supported}`);
  }
  const family = FAMILIES.get(MODEL_TYPE_ALIASES[modelType] ?? modelType);
  if (!family) {
    throw new Error(`config.json: model_type '${modelType}' is not supported; ${supported}`);
  }
  return family;
}
