/**
 * @file `import --text/--file DOC --tokenizer DIR`: an imported trace gets the ids, token texts and
 * exact UTF-16 spans of DOC as the engine's tokenizer makes them, so it lines up with the document
 * the way an engine trace does. The routing came from elsewhere, so the tokens must be the same:
 * when the import carries ids they must equal the tokenizer's one for one, otherwise the counts
 * must agree. A mismatch is one error saying which.
 */
import type { EncodedToken, RoutingTrace } from '../shared/trace';
import { importFail } from './importedTrace';

/** The trace with each token's id (where it had none), text, span and partial flag from `encoded`; throws an ImportError on a mismatch. */
export function attachSpans(trace: RoutingTrace, encoded: readonly EncodedToken[]): RoutingTrace {
  const T = trace.tokens.length;
  if (encoded.length !== T) {
    importFail(`the document has a different number of tokens than the imported routing: ${encoded.length} vs ${T} (another tokenizer, or BOS/EOS added on one side only: try --no-special-tokens)`);
  }
  const firstDiff = trace.tokens.findIndex((t, i) => t.id !== null && t.id !== encoded[i]!.id);
  if (firstDiff >= 0) {
    importFail(`the document's token ids differ from the imported ones: first differing id at token ${firstDiff} (${encoded[firstDiff]!.id} vs ${trace.tokens[firstDiff]!.id})`);
  }
  const tokens = encoded.map((e) => {
    const t = { id: e.id, text: e.text, start: e.start, end: e.end };
    return e.partial ? { ...t, partial: true } : t;
  });
  return { ...trace, tokens };
}
