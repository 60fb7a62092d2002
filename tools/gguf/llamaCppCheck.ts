/**
 * @file llama.cpp (through node-llama-cpp, a dev dependency) as the reference for GGUF files: loads a
 * GGUF file with llama.cpp's own loader, evaluates token ids and returns its next-token probability
 * distribution after the last one, to compare with MoE Lens on the same file. A tool, not a test: its
 * runs are reported (README), since llama.cpp's native binary is not part of CI.
 *
 *   npx tsx tools/gguf/llamaCppCheck.ts FILE.gguf 1,2,3
 */
import type { Llama } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

let llama: Promise<Llama> | null = null;

/** node-llama-cpp is ESM with top-level await: a real import(), which TypeScript's CommonJS output would turn into require(). */
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } })>;

/** The CPU build that ships prebuilt in the npm package (never compiled here). */
export function llamaCpp(): Promise<Llama> {
  llama ??= importEsm('node-llama-cpp').then((m) => m.getLlama({ gpu: false, build: 'never', logLevel: m.LlamaLogLevel.error }));
  return llama;
}

/** llama.cpp's probability of every token after `ids` (temperature 1, no top-k/p/min-p cut). */
export async function llamaCppNextProbabilities(file: string, ids: number[], threads = 2): Promise<Map<number, number>> {
  const l = await llamaCpp();
  const model = await l.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    // F32 K/V cache (llama.cpp's default F16 would round keys and values) and no flash attention, so only the weights' precision differs.
    const context = await model.createContext({
      contextSize: Math.max(64, ids.length + 8),
      threads,
      batchSize: Math.max(64, ids.length),
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      flashAttention: false,
      swaFullCache: true,
    });
    try {
      const seq = context.getSequence();
      const input = ids.map((id, i) =>
        i < ids.length - 1 ? id : ([id, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] as const),
      );
      const out = await seq.controlledEvaluate(input as never);
      const last = out[ids.length - 1];
      const probs = last?.next?.probabilities;
      if (!probs) {
        throw new Error('llama.cpp returned no probabilities');
      }
      return probs;
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** The llama.cpp tokenizer's ids for `text` (no BOS/EOS added; special-token text as plain text). */
export async function llamaCppTokenize(file: string, texts: readonly string[]): Promise<number[][]> {
  const l = await llamaCpp();
  const model = await l.loadModel({ modelPath: file, gpuLayers: 0, vocabOnly: true } as never);
  try {
    return texts.map((t) => [...model.tokenize(t, false)] as number[]);
  } finally {
    await model.dispose();
  }
}

if (require.main === module) {
  const [file, ids] = process.argv.slice(2);
  llamaCppNextProbabilities(file, ids.split(',').map(Number))
    .then((p) => {
      const top = [...p.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
      console.log(JSON.stringify(top));
    })
    .catch((e: unknown) => {
      console.error((e as Error).message);
      process.exit(1);
    });
}
