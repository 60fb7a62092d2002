/**
 * @file 1,000 malformed host→webview messages, made deterministically: wrong methods, missing or
 * mistyped params, states whose trace has out-of-range experts or ragged arrays, and plain junk.
 * Broken states travel as edits of the valid state (the page applies them to its own copy), so
 * hundreds of full traces never cross the browser protocol at once.
 */

/** Set `path` to `value`, or pop / push the array at `path`. */
export interface Edit {
  path: (string | number)[];
  op: 'set' | 'pop' | 'push';
  value?: unknown;
}

export type Malformed = { raw: unknown } | { edits: Edit[] };

function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const set = (path: (string | number)[], value: unknown): Edit => ({ path, op: 'set', value });

export function malformedMessages(numTokens: number, numExperts: number, count = 1000): Malformed[] {
  const r = rng(7);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tok = (): number => Math.floor(r() * numTokens);
  const junk: unknown[] = [null, undefined, 0, -1, NaN, '', 'state/didChange', [], [1, 2], {}, true, { method: null }, { method: 'layer/didChange' }];
  const L0 = ['trace', 'layers', 0];
  const breakState: (() => Edit[])[] = [
    () => [set(['webviewId'], 'other')],
    () => [set(['layer'], -1)],
    () => [set(['selectedToken'], 1e9)],
    () => [set(['selectedToken'], 1.5)],
    () => [set(['text'], 42)],
    () => [set(['highlight'], { layer: 0, expert: -3 })],
    () => [set(['colorScheme'], pick(['rainbow', null, 3, '']))],
    () => [set(['trace', 'schema'], 'moe-lens.trace/0')],
    () => [set(['trace', 'model', 'numExperts'], 0)],
    () => [set(['trace', 'model', 'topK'], '2')],
    () => [set(['trace', 'tokens'], null)],
    () => [set(['trace', 'tokens', tok(), 'id'], -5)],
    () => [set(['trace', 'tokens', tok(), 'text'], { html: '<b>' })],
    () => [set(['trace', 'tokens', tok(), 'start'], 1e9)],
    () => [set(['trace', 'tokens', 1, 'start'], 10), set(['trace', 'tokens', 1, 'end'], 5)],
    () => [{ path: ['trace', 'surprisal'], op: 'pop' }],
    () => [set([...L0, 'kind'], 'sparse')],
    () => [set([...L0, 'experts', tok(), 0], numExperts)],
    () => [set([...L0, 'experts', tok(), 0], 0.5)],
    () => [set([...L0, 'experts', tok(), 0], NaN)],
    () => [{ path: [...L0, 'experts'], op: 'pop' }],
    () => [{ path: [...L0, 'weights', tok()], op: 'push', value: 0.1 }],
    () => [set([...L0, 'weights', tok(), 0], '0.5')],
    () => [{ path: [...L0, 'routerLogits', tok()], op: 'pop' }],
    () => [set([...L0, 'scores'], [[1]])],
    () => [set([...L0, 'sharedWeight'], ['x'])],
    () => [set(['trace', 'windows'], [{ start: 0, end: 1e9, overlap: 0 }])],
    () => [set(['trace', 'layers'], 'all')],
  ];
  const out: Malformed[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 5) {
      case 0:
        out.push({ edits: pick(breakState)() });
        break;
      case 1:
        out.push({ raw: pick(junk) });
        break;
      case 2:
        out.push({
          raw: {
            method: pick(['layer/didChange', 'token/didChange', 'expert/didChange', 'export/didSave']),
            params: pick([null, {}, { layer: 'x' }, { uri: 3, tokenIndex: 1 }, { highlight: { layer: 0 } }, { id: -1, saved: 'yes' }, []]),
          },
        });
        break;
      case 3:
        out.push({ raw: { method: pick(['token/select', 'state/change', 'STATE/DIDCHANGE', 'eval', '__proto__', 'constructor']), params: { state: {} } } });
        break;
      default:
        out.push({ raw: { method: 'layer/didChange', params: { layer: pick([-1, 1.5, NaN, Infinity, '0', null, 2 ** 60]) } } });
    }
  }
  return out;
}
