"""Assemble models/demo/MODEL_CARD.md (second edition) from the run's own records: config.json, work/v2/docs.json and
sources.json (corpus2.py), work/v2/{moe,dense}.log (phase 4), work/v2/eval.json (export.py --corpus v2),
work/v2/stats.md (tools/demo-stats.ts), work/v2/cost.json (per-token cost) and card_notes.json (run-specific prose);
when present, work/v2/stats-{first_edition,previous}.json (demo-stats on the older models) for the JSD comparison.

python3 tools/train-demo/card.py
"""
from __future__ import annotations

import collections
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(HERE, "work", "v2")
DEMO = os.path.join(ROOT, "models", "demo")

SOURCES = {
    "js": "JavaScript/TypeScript implementation code (`.js` `.mjs` `.cjs` `.ts` `.tsx`, no `.d.ts`, no minified or generated files) of the packages in this repository's `node_modules`",
    "dts": "TypeScript's standard library declarations `node_modules/typescript/lib/lib.*.d.ts`",
    "py": "Python 3.11 standard library `/usr/lib/python3.11/**/*.py` without test suites, idlelib, lib2to3, tkinter, turtledemo, ensurepip (Debian 12 `libpython3.11-stdlib`)",
    "sh": "shell scripts (`*.sh`) of the packages in `node_modules`",
    "md": "Markdown: READMEs and docs (`*.md`, no changelogs or licence files) of the packages in `node_modules`, and the Node.js 18 API docs `/usr/share/doc/nodejs/api/*.md.gz` (Debian 12 `nodejs-doc`)",
    "data": "JSON/YAML/TOML of the packages in `node_modules` (`package.json`, configs, workflows; no source maps, no minified data)",
    "pydoc": "Python 3.11 documentation sources (reStructuredText) `/usr/share/doc/python3.11/html/_sources` (Debian 12 `python3.11-doc`): technical prose",
    "handbook": "The Debian Administrator's Handbook, en-US HTML converted to text (Debian 12 `debian-handbook`): modern technical and narrative prose",
    "fortune": "fortune cookies, 40 per document (Debian 12 `fortunes`, `fortunes-min`): short modern English anecdotes, jokes and quotations",
}
KIND_LABEL = {"code": "code", "prose": "prose", "markdown": "Markdown", "json": "JSON/YAML/TOML"}


def log_records(name: str) -> tuple[list[dict], float, int]:
    """Every record of a phase-4 log, the wall time summed over its resumed segments, and its last step.
    A segment that a later one restarted from its own first step or earlier (an abandoned decay) is not
    part of the model's history: its time is not counted, and its records are overwritten by step."""
    recs = [json.loads(line) for line in open(os.path.join(WORK, name))]
    segs: list[list[float]] = []  # [first step, last step, elapsed]
    for r in recs:
        if "args" in r:
            segs.append([0, 0, 0.0])
        elif "step" in r and segs:
            if segs[-1][0] == 0:
                segs[-1][0] = r["step"]
            segs[-1][1], segs[-1][2] = r["step"], r["elapsed"]
    kept = [sg for i, sg in enumerate(segs) if not (i + 1 < len(segs) and segs[i + 1][0] <= sg[0])]
    return recs, sum(sg[2] for sg in kept), int(segs[-1][1]) if segs else 0


def licence_summary(lics: list[str]) -> str:
    """npm licences are recorded per package ('MIT (npm package `x`)'): count them by licence."""
    c = collections.Counter(x.split(" (npm package")[0] for x in lics)
    if any("(npm package" in x for x in lics):
        return ", ".join(f"{k} ({v} packages)" if any(x.startswith(f"{k} (npm package") for x in lics) else k
                         for k, v in c.most_common())
    return "; ".join(sorted(set(lics)))


def main() -> None:
    cfg = json.load(open(os.path.join(DEMO, "config.json")))
    docs = json.load(open(os.path.join(WORK, "docs.json")))
    srcinfo = json.load(open(os.path.join(WORK, "sources.json")))
    ev = json.load(open(os.path.join(WORK, "eval.json")))
    stats_md = open(os.path.join(WORK, "stats.md")).read()
    stats = {"this": json.load(open(os.path.join(WORK, "stats.json")))}
    for other in ("first_edition", "previous"):
        if os.path.exists(os.path.join(WORK, f"stats-{other}.json")):
            stats[other] = json.load(open(os.path.join(WORK, f"stats-{other}.json")))
    cost = json.load(open(os.path.join(WORK, "cost.json"))) if os.path.exists(os.path.join(WORK, "cost.json")) else None
    facts = json.load(open(os.path.join(HERE, "card_notes.json")))
    mrecs, mtime, mstep = log_records("moe.log")
    drecs, dtime, dstep = log_records("dense.log")
    a = next(r["args"] for r in reversed(mrecs) if "args" in r)
    size = {f: os.path.getsize(os.path.join(DEMO, f)) for f in sorted(os.listdir(DEMO)) if f != "MODEL_CARD.md"}
    D, L, E = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_experts"]
    hd = D // cfg["num_attention_heads"]
    attn = D * D + D + 2 * (D * cfg["num_key_value_heads"] * hd + cfg["num_key_value_heads"] * hd) + D * D
    expert = 3 * D * cfg["moe_intermediate_size"]
    shared = 3 * D * cfg["shared_expert_intermediate_size"]
    router = D * E + D
    norms = 2 * D
    embed = cfg["vocab_size"] * D
    total = embed + L * (attn + E * expert + shared + router + norms) + D
    active = embed + L * (attn + cfg["num_experts_per_tok"] * expert + shared + router + norms) + D
    dense_width = cfg["num_experts_per_tok"] * cfg["moe_intermediate_size"] + cfg["shared_expert_intermediate_size"]
    dense_total = embed + L * (attn + 3 * D * dense_width + norms) + D
    train_tokens = sum(d["tokens"] + 1 for d in docs if d["split"] == "train")
    tokens_seen = mstep * a["batch"] * a["seq"]

    rows = []
    for src, desc in SOURCES.items():
        tr = [d for d in docs if d["source"] == src and d["split"] == "train"]
        te = [d for d in docs if d["source"] == src and d["split"] == "eval"]
        if not tr and not te:
            continue
        kind = srcinfo["kinds"][src]
        rows.append(f"| {src} | {KIND_LABEL[kind]} | {desc} | {licence_summary(srcinfo['licences'][src])} | "
                    f"{len(tr)} / {len(te)} | {sum(d['bytes'] for d in tr) / 1e6:.2f} / {sum(d['bytes'] for d in te) / 1e6:.2f} | "
                    f"{sum(d['tokens'] for d in tr) / 1e6:.2f} / {sum(d['tokens'] for d in te) / 1e3:.1f}k |")
    npm_lic: dict[str, str] = {}
    for src in ("js", "md", "data", "sh"):
        for x in srcinfo["licences"].get(src, []):
            if " (npm package `" not in x:
                continue  # md also holds the Node.js docs from Debian
            lic, pkg = x.split(" (npm package `")
            npm_lic[pkg.rstrip("`)")] = lic
    npm_list = ", ".join(f"`{p}` {lic}" for p, lic in sorted(npm_lic.items()))

    evs = [s for s in ev["moe"] if s in SOURCES]

    def group(variant: str, srcs: tuple[str, ...]) -> tuple[float, int]:
        n = sum(ev[variant][s]["tokens"] for s in srcs)
        return sum(ev[variant][s]["nats"] * ev[variant][s]["tokens"] for s in srcs) / n, n

    groups = {"modern English prose (handbook + fortune)": ("handbook", "fortune"),
              "TS/JS implementation code (js)": ("js",), "all code (js + dts + py)": ("js", "dts", "py")}
    # The model this one replaces (export.py --previous), when it was scored: one more column.
    prev = "previous" in ev
    prev_head = f" {facts.get('previous_label', 'previous')} |" if prev else ""
    prev_sentence = f", \"{facts.get('previous_label', 'previous')}\" the model this one replaces (`export.py --previous`)" if prev else ""
    res_rows = []
    for s in evs:
        m, d, f = ev["moe"][s], ev["dense"][s], ev["first_edition"][s]
        res_rows.append(f"| {s} ({KIND_LABEL[srcinfo['kinds'][s]]}) | {m['tokens']:,} | **{m['nats']:.3f}** | {d['nats']:.3f} | "
                        f"{m['nats'] - d['nats']:+.3f} | {f['nats']:.3f} |" + (f" {ev['previous'][s]['nats']:.3f} |" if prev else ""))
    for label, srcs in groups.items():
        (m, n), (d, _), (f, _) = group("moe", srcs), group("dense", srcs), group("first_edition", srcs)
        res_rows.append(f"| {label} | {n:,} | **{m:.3f}** | {d:.3f} | {m - d:+.3f} | {f:.3f} |" + (f" {group('previous', srcs)[0]:.3f} |" if prev else ""))
    res_rows.append(f"| **all** | {ev['moe']['all']['tokens']:,} | **{ev['moe']['all']['nats']:.3f}** (perplexity {ev['moe']['all']['ppl']:.1f}) | "
                    f"{ev['dense']['all']['nats']:.3f} (perplexity {ev['dense']['all']['ppl']:.1f}) | "
                    f"{ev['moe']['all']['nats'] - ev['dense']['all']['nats']:+.3f} | {ev['first_edition']['all']['nats']:.3f} |"
                    + (f" {ev['previous']['all']['nats']:.3f} |" if prev else ""))

    def jsd_compare() -> str:
        """Code ‖ prose JSD per layer, held-out (top-k load, and top-1 where measured) and on the npm start sample (top-1), for each model measured."""
        names = {"this": "this model", "previous": facts.get("previous_label", "previous"), "first_edition": "first edition"}
        layers = [l["layer"] for l in stats["this"]["layers"]]
        ls = "/".join(map(str, layers))
        out = [f"| model | held-out code ‖ prose, top-k load, layers {ls} | held-out, top-1, layers {ls} | `npm start` sample, top-1, layers {ls} |",
               "|---|---|---|---|"]
        for key in ("this", "previous", "first_edition"):
            if key in stats:
                st = stats[key]
                held = " / ".join(f"{l['jsdBits']:.3f}" for l in st["layers"])
                top1 = " / ".join(f"{l['jsdTop1Bits']:.3f}" for l in st["layers"]) if all("jsdTop1Bits" in l for l in st["layers"]) else "–"
                samp = " / ".join(f"{b:.3f}" for b in st["sample"]["bits"]) if "sample" in st else "–"
                out.append(f"| {names[key]} | {held} | {top1} | {samp} |")
        return "\n".join(out)

    def curve() -> str:
        def recs(rs: list[dict]) -> tuple[dict, dict]:
            ce, e = {}, {}
            for r in rs:
                if "ce" in r:
                    ce[r["step"]] = r["ce"]
                if "eval" in r:
                    e[r["step"]] = r["eval"]
            return ce, e
        mce, mev = recs(mrecs)
        dce, dev = recs(drecs)
        out = ["| steps | MoE train CE | dense train CE |", "|---|---|---|"]
        block = 50 if mstep <= 500 else 100
        for a0 in range(1, mstep + 1, block):
            b0 = min(a0 + block - 1, mstep)
            ms = [mce[x] for x in range(a0, b0 + 1) if x in mce]
            ds = [dce[x] for x in range(a0, b0 + 1) if x in dce]
            if ms and ds:
                out.append(f"| {a0}–{b0} | {sum(ms) / len(ms):.3f} | {sum(ds) / len(ds):.3f} |")
        keys = list(SOURCES)
        shown = [k for k in keys if any(k in e for e in mev.values())]
        out += ["", f"| step | MoE {' / '.join(shown)} | dense {' / '.join(shown)} |", "|---|---|---|"]
        for st in sorted(mev):
            if st in dev:
                f = lambda e: " / ".join(f"{e[k]:.2f}" for k in shown)  # noqa: E731
                out.append(f"| {st} | {f(mev[st])} | {f(dev[st])} |")
        return "\n".join(out)

    cost_md = facts.get("cost_note", "")
    if cost:
        cost_md = (f"`moe-lens analyze` on the same {cost['tokens']:,}-token file, the model replaced and this one in the same run "
                   f"(best of {cost['repeats']}): {cost['old_ms_per_token']:.3f} ms/token vs {cost['new_ms_per_token']:.3f} ms/token, "
                   f"ratio **{cost['ratio']:.2f}×** (limit 1.5×). " + cost_md)

    card = f"""# MoE Lens demo model (`models/demo`), second edition

A small Mixture-of-Experts language model trained for MoE Lens, so that a fresh install shows **real** routing
with no download: `npx moe-lens analyze README.md` uses it when `--model` is omitted. The second edition is
trained on what users open — READMEs and Markdown notes, JavaScript/TypeScript and Python source, JSON/YAML,
modern English prose — on top of the first edition (TypeScript declarations, the Python standard library and
docs, the King James Bible). It is a teaching/demo model (9 M parameters), not a useful text generator.
Everything here was made by the scripts in `tools/train-demo/` and `tools/bpe/` of this repository; the numbers
below come from the run's own logs and from our engine.

## Architecture

Unchanged from the first edition (so the second phase could start from its weights, and the per-token cost is the
same). Stock `qwen2_moe` (transformers' `Qwen2MoeForCausalLM`): `config.json` and `model.safetensors` (bf16, HF
tensor names) load unchanged in transformers and in our engine.

| | |
|---|---|
| layers | {L}, every one sparse (`decoder_sparse_step` 1, no `mlp_only_layers`) |
| hidden size | {D}; RMSNorm ε {cfg['rms_norm_eps']} |
| attention | {cfg['num_attention_heads']} query heads, {cfg['num_key_value_heads']} key/value heads (GQA), head dim {hd}, q/k/v bias, RoPE θ {cfg['rope_theta']:g} |
| context | `max_position_embeddings` {cfg['max_position_embeddings']}; trained on {a['seq']}-token windows |
| routed experts | {E} SwiGLU experts of width {cfg['moe_intermediate_size']}, top-{cfg['num_experts_per_tok']}, softmax router, `norm_topk_prob` {str(cfg['norm_topk_prob']).lower()} (the two gate weights sum to less than 1) |
| shared expert | one SwiGLU expert of width {cfg['shared_expert_intermediate_size']} on every token, scaled by σ(`shared_expert_gate`·x) |
| vocabulary | {cfg['vocab_size']} byte-level BPE tokens, ids contiguous from 0 (4093 learned + 3 special: `<\\|endoftext\\|>` = {cfg['eos_token_id']}, `<\\|im_start\\|>`, `<\\|im_end\\|>`), embeddings tied to the LM head |
| parameters | {total:,} in all, {active:,} active per token ({active - embed:,} without the embedding) |
| files | {', '.join(f'`{k}` {v / 1e6:.2f} MB' if v >= 1e6 else f'`{k}` {v / 1e3:.1f} kB' for k, v in size.items())}; {sum(size.values()) / 2**20:.2f} MiB without this card |

The dense twin used for comparison is the same `qwen2_moe` with every layer dense (`mlp_only_layers` = all,
`intermediate_size` = {cfg['num_experts_per_tok']}·{cfg['moe_intermediate_size']} + {cfg['shared_expert_intermediate_size']} = {dense_width}): {dense_total:,} parameters, i.e. the MoE's
active parameters minus the router and shared-expert gate ({L * router:,} parameters).

## Tokenizer

The first edition's, unchanged: our own byte-level BPE trainer (`tools/bpe/bpe.py`), trained by `prepare.py` on a
6.6 M-character sample of the first edition's corpus (TypeScript declarations, Python code, Python docs, KJV), with
Qwen2's pipeline: `Split` with Qwen2's pre-tokenizer regex, `ByteLevel` (no regex, no prefix space), BPE with
{cfg['vocab_size'] - 3 - 256} merges over the 256 byte symbols, `ByteLevel` decoder, no normalizer. Keeping it keeps the token ids, so
phase 4 continues the first edition's weights; {facts.get('tokenizer_note', '')} On the second-edition corpus it averages
{sum(d['bytes'] for d in docs) / sum(d['tokens'] for d in docs):.2f} bytes per token. `node tools/bpe/verify.mjs` checks it against HF `tokenizers`.

## Corpus (second edition)

What a user of this extension opens, from a bounded set of sources already at hand: this repository's own npm
dependencies (`node_modules`, packages whose `package.json` licence is MIT, Apache-2.0, ISC, BSD-2/3-Clause or
0BSD only; nested copies included, each file read from its package) and Debian 12 packages
(`apt-get install python3.11-doc nodejs-doc debian-handbook fortunes fortunes-min`). Nothing was downloaded
for the corpus. `tools/train-demo/corpus2.py` rebuilds it (not committed). Documents are deduplicated
(SHA-256 of the whitespace-normalised text), each source capped ({', '.join(f'{k} {v / 1e6:g} MB' for k, v in srcinfo['caps'].items())}; a
seeded random sample of documents beyond the cap), and 5% are held out by a seeded hash (seed 1234) of the
document's group: an npm package's name for `node_modules` files (so a package's CJS and ESM builds never
straddle the split), the document itself otherwise.

| source | kind | what | licence | docs train / held-out | MB train / held-out | tokens train (M) / held-out |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Training stream: {train_tokens / 1e6:.2f} M tokens (documents shuffled, joined with `<|endoftext|>`).

<details><summary>npm packages read, with the licence in each package.json ({len(npm_lic)})</summary>

{npm_list}

</details>

## Training recipe

```
bash tools/train-demo/train.sh   # check model.py vs transformers → first-edition corpus + tokenizer → verify tokenizer →
                                 # phases 1-3 (first edition) → second-edition corpus → phase 4, MoE and dense twin
                                 # side by side → export + eval → fixture → engine stats → card
```

- Phases 1–3 are the first edition's run, unchanged: {facts.get('v1_schedule', '')} 1560 steps = 3.19 M tokens of the
  first-edition corpus, {facts.get('v1_minutes', 108)} minutes on the shared 2-core machine. Its weights (bf16, as shipped) are phase 4's start.
- Phase 4 (this edition): the second-edition corpus; fresh AdamW (β 0.9/0.95, weight decay 0.1 on matrices),
  gradient clip 1.0, batch {a['batch']} × {a['seq']} tokens, {a['warmup']} warmup steps, {facts.get('v2_schedule', '')}
  **{mstep} steps = {tokens_seen / 1e6:.2f} M tokens** ({tokens_seen / train_tokens:.2f} epochs of the second-edition stream).
  Router losses as before: Switch-style load balancing E·Σ f_i·P_i (coefficient {a['aux']}) and router z-loss (coefficient {a['zloss']}).
- The dense twin gets the same phase 4 (same batches, steps, schedule, optimizer) from the same first-edition
  weights: `densify.py` copies the trunk (embeddings, attention, norms) exactly and builds each dense MLP
  ({dense_width} wide) from the shared expert (gate folded in at its mean) and the two experts with the highest
  mean router probability (scaled by it). {facts.get('dense_note', '')}
- PyTorch {facts.get('torch', '1.13')} from Debian's `python3-torch`, CPU, fp32, one thread per model
  (`OPENBLAS_NUM_THREADS=1`), seeds fixed (batch *s* is drawn from `numpy.random.default_rng([1234, s])`, so both
  models see identical batches). `tools/train-demo/model.py` re-implements transformers' `Qwen2MoeForCausalLM`
  forward (checked by `check_hf.py`).
- Machine and time: {facts.get('machine_note', 'a 2-core VM')};
  phase 4 took {mtime / 60:.0f} min (MoE) and {dtime / 60:.0f} min (dense), run concurrently. {facts.get('time_note', '')}
- Export: `tools/train-demo/export.py` writes bf16 safetensors by hand and checks the round trip; all held-out
  numbers below use the **shipped bf16 weights**.

## Results: held-out loss (nats/token, weights in bf16)

{ev['windows']} evenly spaced non-overlapping {a['seq']}-token windows per held-out source (fewer where a source's held-out
stream is shorter), every token but a window's first scored. "First edition" is the model phase 4 starts from{prev_sentence}, on
the same windows.

| held-out source | tokens | MoE | dense twin | MoE − dense | first edition |{prev_head}
|---|---|---|---|---|---|{'---|' if prev else ''}
{chr(10).join(res_rows)}

{facts.get('results_note', '')}

### Training curve (phase 4)

Mean training cross-entropy (nats/token) over blocks of {50 if mstep <= 500 else 100} steps, on identical batches, and the in-training
check on the first 16 windows of each held-out stream (fp32 weights):

{curve()}

## Specialisation, measured by our engine

`tools/demo-stats.ts` loads `models/demo` with MoE Lens's own engine (`loadModel`, `loadTokenizer`), runs
held-out documents of each source in {a['seq']}-token windows and counts top-{cfg['num_experts_per_tok']} assignments per kind: code (js + dts + py),
prose (pydoc + handbook + fortune), Markdown (md) and JSON/YAML/TOML (data). JSD is the Jensen–Shannon
divergence (base 2: 0 = same expert mix, 1 = disjoint experts) between two kinds' expert-load distributions in
a layer. Aux loss is E·Σ f_i·P_i over all those tokens (f_i: share of assignments, P_i: mean router
probability; 1 = balanced). "Most characteristic" tokens are those (seen ≥ 8 times) with the largest share of
their occurrences sent to that expert.

![expert load, code vs prose](expert_load.svg)

{facts.get('spec_note', '')}

{jsd_compare()}

{stats_md}
The surprisals in this section differ from the held-out table above because here each held-out document is
run on its own from its first token (the first documents of each source), by our engine; above, {a['seq']}-token
windows run across the concatenated held-out stream.

## Cost per token

{cost_md}

## Verification

- `test/unit/demo/demoModel.test.ts` (part of `npm test`, no torch needed): our engine on the shipped files
  reproduces PyTorch's router logits within 1e-4 in every layer on a held-out passage (part of a held-out npm
  README with a code block), the same top-2 experts, and next-token surprisal within 1e-3; the PyTorch side is
  recorded in `test/fixtures/demo/router_logits.json` by `tools/train-demo/fixture.py` (from the bf16 weights;
  the fixture stores the model file's SHA-256).
- `test/unit/demo/demoSpecialisation.test.ts`: the embedded model names its default layer (the layer the editor
  colours by until the user selects another, `EMBEDDED_DEFAULT_LAYER` in `src/engine/model.ts`), and in that layer
  the `npm start` sample's code and prose get top-1 experts at least 0.3 bit apart (JSD).
- `node tools/bpe/verify.mjs` checks the tokenizer against HF `tokenizers`; `/usr/bin/python3
  tools/train-demo/check_hf.py` checks `model.py` against transformers on the transformers-made
  `test/fixtures/qwen2_moe` model.

## Limitations

Tiny and briefly trained: it predicts code and English far worse than any real LM, and it never saw chat or
other languages. Its experts specialise by surface form (indentation, punctuation, identifiers, word classes)
rather than by topic. It is meant to make MoE routing visible, not to generate text. {facts.get('limits_note', '')}

## Licence

Weights and tokenizer: MIT, like the rest of MoE Lens. Training data: see the corpus tables (MIT, Apache-2.0,
ISC, BSD, 0BSD npm packages; PSF-2.0; GPL-2+ or CC-BY-SA-3.0; BSD fortunes; first edition also public-domain
KJV); no data is redistributed here.
"""
    with open(os.path.join(DEMO, "MODEL_CARD.md"), "w") as f:
        f.write(card)
    print("wrote MODEL_CARD.md", len(card), "chars, perplexity check", round(math.exp(ev["moe"]["all"]["nats"]), 1))


if __name__ == "__main__":
    main()
