/** @file The flat, transferable result of one encode, shared by the worker and the main thread. */

export interface CoreEncoding {
  ids: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
  /** FLAG_PARTIAL | FLAG_NO_SPAN per token. */
  flags: Uint8Array;
  /** Tokens whose bytes could not be matched to the text (spans then approximate); 0 for supported tokenizers. */
  approximate: number;
}

/** The token shares a split code point with a neighbour. */
export const FLAG_PARTIAL = 1;
/** Added by the post-processor (BOS/EOS): no place in the document. */
export const FLAG_NO_SPAN = 2;
