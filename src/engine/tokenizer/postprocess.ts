/**
 * @file BOS/EOS: the tokens added around a sequence, which have no place in the document.
 *
 * transformers' Llama-style fast tokenizers rebuild the post-processor from `add_bos_token` /
 * `add_eos_token` in tokenizer_config.json (DeepSeek-V3 ships a ByteLevel post-processor but
 * `add_bos_token: true`, and the model is fed a BOS). So when the config states either flag it
 * decides; otherwise tokenizer.json's own post-processor (TemplateProcessing, Roberta/Bert) does.
 */
import { FLAG_NO_SPAN, type CoreEncoding } from './encoding';

export type PostProcessor = (enc: CoreEncoding, addSpecialTokens: boolean) => CoreEncoding;

type Json = Record<string, unknown>;

/** The id of a config token entry (a string or an AddedToken object), or null. */
export function tokenIdOf(entry: unknown, lookup: (content: string) => number | null): number | null {
  const content =
    typeof entry === 'string' ? entry : entry && typeof entry === 'object' ? (entry as Json).content : null;
  return typeof content === 'string' ? lookup(content) : null;
}

export function buildPostProcessor(
  post: unknown,
  config: Json,
  bos: number | null,
  eos: number | null,
  lookup: (content: string) => number | null,
): PostProcessor {
  let prefix: number[] = [];
  let suffix: number[] = [];
  if (typeof config.add_bos_token === 'boolean' || typeof config.add_eos_token === 'boolean') {
    if (config.add_bos_token === true && bos !== null) { prefix = [bos]; }
    if (config.add_eos_token === true && eos !== null) { suffix = [eos]; }
  } else {
    [prefix, suffix] = fromTokenizerJson(post, lookup);
  }
  return (enc, add) => (add && (prefix.length || suffix.length) ? wrap(enc, prefix, suffix) : enc);
}

function fromTokenizerJson(post: unknown, lookup: (content: string) => number | null): [number[], number[]] {
  if (!post || typeof post !== 'object') { return [[], []]; }
  const p = post as Json;
  switch (p.type) {
    case 'TemplateProcessing': {
      const special = (p.special_tokens ?? {}) as Record<string, { ids?: number[] }>;
      const prefix: number[] = [];
      const suffix: number[] = [];
      let seenA = false;
      for (const item of (Array.isArray(p.single) ? p.single : []) as Json[]) {
        if (item.Sequence) {
          seenA = true;
        } else if (item.SpecialToken) {
          const id = (item.SpecialToken as Json).id as string;
          const ids = special[id]?.ids ?? [lookup(id)].filter((x): x is number => x !== null);
          (seenA ? suffix : prefix).push(...ids);
        }
      }
      return [prefix, suffix];
    }
    case 'RobertaProcessing':
    case 'BertProcessing': {
      const cls = p.cls as [string, number] | undefined;
      const sep = p.sep as [string, number] | undefined;
      return [cls ? [cls[1]] : [], sep ? [sep[1]] : []];
    }
    case 'Sequence': {
      const parts = (Array.isArray(p.processors) ? p.processors : []).map((x: unknown) => fromTokenizerJson(x, lookup));
      return [parts.flatMap((x) => x[0]), parts.flatMap((x) => x[1])];
    }
    default:
      return [[], []];
  }
}

function wrap(enc: CoreEncoding, prefix: number[], suffix: number[]): CoreEncoding {
  const n = prefix.length + enc.ids.length + suffix.length;
  const ids = new Int32Array(n);
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  const flags = new Uint8Array(n);
  ids.set(prefix, 0);
  ids.set(enc.ids, prefix.length);
  ids.set(suffix, prefix.length + enc.ids.length);
  starts.set(enc.starts, prefix.length);
  ends.set(enc.ends, prefix.length);
  flags.set(enc.flags, prefix.length);
  for (let i = 0; i < prefix.length; i++) { flags[i] = FLAG_NO_SPAN; }
  for (let i = prefix.length + enc.ids.length; i < n; i++) { flags[i] = FLAG_NO_SPAN; }
  return { ids, starts, ends, flags, approximate: enc.approximate };
}
