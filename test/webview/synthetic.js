// A synthetic routing trace of T tokens over a code-like document, with windows, made inside the
// page (the test evaluates this source there): a 20,000-token trace is tens of MB of JSON, too much
// to pass through the browser protocol quickly. It measures drawing, not routing.
function makeSynthetic(T, L, E, k) {
  let a = 42;
  const r = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const words = ['const', ' x', ' =', ' 1', ';', '\n', '  ', 'return', ' value', '(', ')', ' {', '}', ' +', ' foo', '.bar', '\n\n'];
  const tokens = [];
  let at = 0;
  for (let t = 0; t < T; t++) {
    const id = Math.floor(r() * words.length);
    const s = words[id];
    tokens.push({ id, text: s, start: at, end: at + s.length });
    at += s.length;
  }
  const text = tokens.map((t) => t.text).join('');
  const layers = [];
  for (let layer = 0; layer < L; layer++) {
    const routerLogits = [];
    const scores = [];
    const experts = [];
    const weights = [];
    for (let t = 0; t < T; t++) {
      const l = [];
      let max = -Infinity;
      for (let e = 0; e < E; e++) {
        // A per-layer bias makes some experts busier, as real routers are.
        const v = (r() - 0.5) * 6 + ((e * (layer + 3)) % 5) * 0.4;
        l.push(v);
        max = Math.max(max, v);
      }
      let z = 0;
      const p = l.map((v) => {
        const x = Math.exp(v - max);
        z += x;
        return x;
      });
      for (let e = 0; e < E; e++) {
        p[e] /= z;
      }
      const order = p.map((_, i) => i).sort((x, y) => p[y] - p[x]);
      const top = order.slice(0, k);
      const s = top.reduce((acc, i) => acc + p[i], 0);
      routerLogits.push(l);
      scores.push(p);
      experts.push(top);
      weights.push(top.map((i) => p[i] / s));
    }
    layers.push({ layer, kind: 'moe', routerLogits, scores, experts, weights, sharedWeight: null });
  }
  const windows = [];
  for (let s = 0; s < T; s += 1024 - 128) {
    windows.push({ start: s, end: Math.min(T, s + 1024), overlap: s === 0 ? 0 : 128 });
    if (s + 1024 >= T) {
      break;
    }
  }
  const surprisal = tokens.map((_, i) => (i === T - 1 ? null : r() * 8));
  const trace = {
    schema: 'moe-lens.trace/1',
    model: {
      path: 'synthetic', name: 'synthetic', modelType: 'qwen2_moe', numLayers: L, numExperts: E, topK: k,
      vocabSize: words.length, gate: 'softmax-renormalized', gateDescription: 'Synthetic routing for timing.',
      hasSharedExpert: false, moeLayers: layers.map((l) => l.layer),
    },
    backend: 'synthetic',
    tokens,
    layers,
    surprisal,
    windows,
  };
  return { trace, text };
}
globalThis.makeSynthetic = makeSynthetic;
