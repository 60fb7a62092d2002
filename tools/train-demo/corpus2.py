"""Second-edition corpus: what users open (modern prose, Markdown, JS/TS implementation code, Python, JSON/YAML/TOML,
shell), encoded with the first edition's tokenizer (models/demo/tokenizer.json is kept, so the second phase can
start from the first edition's weights).

Run with the pyenv python3 (needs `regex` and numpy):  python3 tools/train-demo/corpus2.py
Needs: apt-get install python3.11-doc nodejs-doc debian-handbook fortunes fortunes-min, and this repo's node_modules.
Outputs go to tools/train-demo/work/v2/ (not committed): train.u16, eval_<source>.u16, docs.json, sources.json.
Held-out split: 5% by a seeded hash of the document's group (an npm package's name for node_modules files, so
its CJS and ESM builds never straddle the split; otherwise the document's own name).
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import html.parser
import json
import os
import random
import re
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "bpe"))
import bpe  # noqa: E402

WORK = os.path.join(HERE, "work", "v2")
TOKENIZER = os.path.join(ROOT, "models", "demo", "tokenizer.json")
SEED = 1234
EVAL_FRACTION = 0.05
NM = os.path.join(ROOT, "node_modules")
ALLOWED = {"MIT", "Apache-2.0", "ISC", "BSD-2-Clause", "BSD-3-Clause", "0BSD"}
# Per-source caps in bytes (the whole corpus is far more than the steps we can afford; keep the mix balanced).
CAPS = {"js": 9_000_000, "md": 6_000_000, "pydoc": 3_500_000, "handbook": 3_000_000, "fortune": 2_500_000,
        "py": 3_000_000, "dts": 1_200_000, "data": 2_000_000, "sh": 500_000}
KIND = {"js": "code", "dts": "code", "py": "code", "sh": "code", "md": "markdown", "data": "json",
        "pydoc": "prose", "handbook": "prose", "fortune": "prose"}
MAX_DOC = 200_000


def is_eval(group: str) -> bool:
    h = hashlib.sha256(f"{SEED}:{group}".encode()).digest()
    return int.from_bytes(h[:4], "little") / 2**32 < EVAL_FRACTION


def read(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


def looks_generated(text: str) -> bool:
    """Minified bundles, source maps inlined, data blobs: long lines teach nothing a user reads."""
    lines = text.splitlines() or [""]
    return max(len(x) for x in lines) > 1000 or len(text) / len(lines) > 120


def npm_packages() -> list[tuple[str, str, str]]:
    """(package dir, name, licence) of every package in node_modules whose licence is permissive."""
    out = []
    for pj in sorted(glob.glob(os.path.join(NM, "**", "package.json"), recursive=True)):
        d = os.path.dirname(pj)
        rel = os.path.relpath(d, NM)
        try:
            j = json.load(open(pj))
        except (OSError, ValueError):
            continue
        if j.get("name") != rel.split("node_modules/")[-1]:
            continue  # nested package.json files of builds (dist/cjs/package.json) and fixtures
        lic = j.get("license")
        if isinstance(lic, dict):
            lic = lic.get("type")
        if lic in ALLOWED:
            out.append((d, j["name"], lic))
    return out


class _Text(html.parser.HTMLParser):
    SKIP = {"script", "style", "head", "nav"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in ("p", "li", "h1", "h2", "h3", "h4", "pre", "tr", "br", "div"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_text(src: str) -> str:
    p = _Text()
    p.feed(src)
    text = "".join(p.parts)
    lines = [re.sub(r"[ \t]+", " ", x).strip() for x in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def collect() -> list[dict]:
    docs: list[dict] = []

    def add(source: str, name: str, group: str, text: str, licence: str) -> None:
        if text.strip():
            docs.append({"source": source, "kind": KIND[source], "name": name, "group": group, "text": text,
                         "licence": licence})

    for d, name, lic in npm_packages():
        rel = os.path.relpath(d, ROOT)
        for p in sorted(glob.glob(os.path.join(d, "**", "*"), recursive=True)):
            if "/node_modules/" in os.path.relpath(p, d) or not os.path.isfile(p) or os.path.getsize(p) > MAX_DOC:
                continue
            base = os.path.basename(p)
            low = base.lower()
            if low.endswith(".md") and not low.startswith(("changelog", "history", "license")):
                src = "md"
            elif low.endswith((".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx")) and not low.endswith(
                    (".d.ts", ".d.mts", ".d.cts", ".min.js")):
                src = "js"
            elif low.endswith((".json", ".yml", ".yaml", ".toml")) and not low.endswith(".map"):
                src = "data"
            elif low.endswith(".sh"):
                src = "sh"
            else:
                continue
            t = read(p)
            if src in ("js", "data") and looks_generated(t):
                continue
            add(src, os.path.relpath(p, ROOT), "npm:" + name, t, f"{lic} (npm package `{name}`)")
    for p in sorted(glob.glob(os.path.join(NM, "typescript/lib/lib.*.d.ts"))):
        add("dts", os.path.relpath(p, ROOT), "npm:typescript:" + os.path.basename(p), read(p), "Apache-2.0")
    for p in sorted(glob.glob("/usr/share/doc/nodejs/api/*.md.gz")):
        add("md", p, "nodejs-doc:" + os.path.basename(p), read(p), "MIT (Node.js documentation, Debian `nodejs-doc`)")
    for p in sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)):
        add("pydoc", p, p, read(p), "PSF-2.0")
    for p in sorted(glob.glob("/usr/share/doc/debian-handbook/html/en-US/*.html")):
        add("handbook", p, p, html_text(read(p)), "GPL-2+ or CC-BY-SA-3.0")
    for p in sorted(glob.glob("/usr/share/games/fortunes/*")):
        if "." in os.path.basename(p) or os.path.isdir(p):
            continue
        # One document per 40 fortunes, so the split and the dedup work on passages rather than whole files.
        items = [x.strip() for x in read(p).split("\n%\n") if x.strip()]
        for i in range(0, len(items), 40):
            add("fortune", f"{p}#{i // 40}", f"{p}#{i // 40}", "\n\n".join(items[i:i + 40]) + "\n",
                "BSD (fortune-mod, as packaged by Debian `fortunes`, `fortunes-min`)")
    skip = re.compile(r"/(test|tests|idle_test|idlelib|lib2to3|ensurepip|site-packages|dist-packages|__pycache__|turtledemo|tkinter)/")
    for p in sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True)):
        if not skip.search(p):
            add("py", p, p, read(p), "PSF-2.0")
    for p in sorted(glob.glob("/usr/share/doc/**/examples/**/*.sh", recursive=True)):
        pass  # Debian examples carry many licences; node_modules' scripts are enough shell for the mix.
    return docs


def dedup_and_cap(docs: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    rng = random.Random(SEED)
    order = list(range(len(docs)))
    rng.shuffle(order)  # caps keep a random sample of each source, not the alphabetically first packages
    used: dict[str, int] = {}
    for i in order:
        d = docs[i]
        key = hashlib.sha256(re.sub(r"\s+", " ", d["text"]).strip().encode()).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        n = len(d["text"].encode("utf-8"))
        if used.get(d["source"], 0) + n > CAPS[d["source"]]:
            continue
        used[d["source"]] = used.get(d["source"], 0) + n
        out.append(d)
    out.sort(key=lambda d: (d["source"], d["name"]))
    return out


def main() -> None:
    os.makedirs(WORK, exist_ok=True)
    t0 = time.time()
    raw = collect()
    docs = dedup_and_cap(raw)
    licences: dict[str, set] = {}
    for d in docs:
        licences.setdefault(d["source"], set()).add(d["licence"])
    for d in docs:
        d["split"] = "eval" if is_eval(d["group"]) else "train"
    stats: dict[str, dict[str, int]] = {}
    for d in docs:
        s = stats.setdefault(f"{d['source']}/{d['split']}", {"docs": 0, "bytes": 0})
        s["docs"] += 1
        s["bytes"] += len(d["text"].encode("utf-8"))
    print(json.dumps(stats, indent=1), f"{len(raw)} candidates, {len(docs)} kept, {time.time() - t0:.1f}s", flush=True)

    enc = bpe.Bpe.load(TOKENIZER)
    eot = enc.vocab["<|endoftext|>"]
    streams: dict[str, list[int]] = {"train": []}
    doc_index = []
    train_docs = [d for d in docs if d["split"] == "train"]
    random.Random(SEED).shuffle(train_docs)  # the training stream interleaves sources
    for d in train_docs + [d for d in docs if d["split"] == "eval"]:
        ids = enc.encode(d["text"])
        key = "train" if d["split"] == "train" else f"eval_{d['source']}"
        streams.setdefault(key, [])
        doc_index.append({"name": d["name"], "source": d["source"], "kind": d["kind"], "split": d["split"],
                          "start": len(streams[key]), "tokens": len(ids), "bytes": len(d["text"].encode("utf-8"))})
        streams[key].extend(ids)
        streams[key].append(eot)
    for k, v in streams.items():
        np.array(v, dtype=np.uint16).tofile(os.path.join(WORK, f"{k}.u16"))
        print(k, len(v), "tokens", flush=True)
    with open(os.path.join(WORK, "docs.json"), "w") as f:
        json.dump(doc_index, f)
    with open(os.path.join(WORK, "heldout.jsonl"), "w", encoding="utf-8") as f:  # texts for tools/demo-stats.ts
        for d in docs:
            if d["split"] == "eval":
                f.write(json.dumps({k: d[k] for k in ("source", "kind", "name", "split", "text")}) + "\n")
    with open(os.path.join(WORK, "sources.json"), "w") as f:
        json.dump({"licences": {k: sorted(v) for k, v in licences.items()}, "kinds": KIND, "caps": CAPS}, f, indent=1)
    print(f"done {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
