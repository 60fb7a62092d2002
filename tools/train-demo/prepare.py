"""Build the demo model's corpus, train its BPE tokenizer and encode the corpus.

Run with the pyenv python3 (needs `regex` and numpy):  python3 tools/train-demo/prepare.py
Sources (all on a Debian 12 machine after `apt-get install python3.11-doc bible-kjv`, plus this
repo's node_modules):
  code/ts    node_modules/typescript/lib/lib.*.d.ts            Apache-2.0 (Microsoft)
  code/py    /usr/lib/python3.11/**/*.py (no test suites)       PSF-2.0
  prose/pydoc /usr/share/doc/python3.11/html/_sources/**/*.txt  PSF-2.0 (Python documentation, reST)
  prose/kjv  `bible` (bible-kjv / bible-kjv-text), one doc per chapter  public domain (1611 text)
Held-out split: 5% of documents, chosen by a seeded hash of the document's name.
Outputs go to tools/train-demo/work/ (not committed) and models/demo/tokenizer*.json.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "bpe"))
import bpe  # noqa: E402

WORK = os.path.join(HERE, "work")
OUT = os.path.join(ROOT, "models", "demo")
VOCAB_SIZE = 4096
SEED = 1234
EVAL_FRACTION = 0.05
PY_CAP = 6_000_000  # bytes of stdlib code, so code and prose are about balanced


def is_eval(name: str) -> bool:
    h = hashlib.sha256(f"{SEED}:{name}".encode()).digest()
    return int.from_bytes(h[:4], "little") / 2**32 < EVAL_FRACTION


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def collect() -> list[dict]:
    docs: list[dict] = []
    for p in sorted(glob.glob(os.path.join(ROOT, "node_modules/typescript/lib/lib.*.d.ts"))):
        docs.append({"source": "ts", "kind": "code", "name": "ts:" + os.path.basename(p), "text": read(p)})
    skip = re.compile(r"/(test|tests|idle_test|idlelib|lib2to3|ensurepip|site-packages|dist-packages|__pycache__|turtledemo|tkinter)/")
    pys = [p for p in sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True)) if not skip.search(p)]
    random.Random(SEED).shuffle(pys)
    total = 0
    for p in pys:
        t = read(p)
        if total + len(t) > PY_CAP or len(t) > 400_000:
            continue
        total += len(t)
        docs.append({"source": "py", "kind": "code", "name": "py:" + p, "text": t})
    for p in sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)):
        docs.append({"source": "pydoc", "kind": "prose", "name": "pydoc:" + p, "text": read(p)})
    kjv = subprocess.run(["bible", "-f", "Ge1:1-Re22:21"], capture_output=True, text=True, check=True).stdout
    chapters: dict[str, list[str]] = {}
    order: list[str] = []
    for line in kjv.splitlines():
        m = re.match(r"^(\w+?)(\d+):(\d+) (.*)$", line)
        if not m:
            continue
        key = f"{m.group(1)}{m.group(2)}"
        if key not in chapters:
            chapters[key] = []
            order.append(key)
        chapters[key].append(m.group(4).strip())
    for key in order:
        docs.append({"source": "kjv", "kind": "prose", "name": "kjv:" + key, "text": " ".join(chapters[key]) + "\n"})
    for d in docs:
        d["split"] = "eval" if is_eval(d["name"]) else "train"
    return docs


def main() -> None:
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    docs = collect()
    stats: dict[str, dict[str, int]] = {}
    for d in docs:
        s = stats.setdefault(f"{d['source']}/{d['split']}", {"docs": 0, "bytes": 0})
        s["docs"] += 1
        s["bytes"] += len(d["text"].encode("utf-8"))
    print(json.dumps(stats, indent=1))
    with open(os.path.join(WORK, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")

    # Tokenizer: train on an equal-size sample of each source's training docs.
    rng = random.Random(SEED)
    sample: list[str] = []
    for src in ("ts", "py", "pydoc", "kjv"):
        pool = [d["text"] for d in docs if d["source"] == src and d["split"] == "train"]
        rng.shuffle(pool)
        got = 0
        for t in pool:
            if got > 1_200_000:
                break
            sample.append(t)
            got += len(t)
    print(f"bpe sample {sum(map(len, sample))} chars, {time.time() - t0:.1f}s")
    base, merges = bpe.train(sample, VOCAB_SIZE)
    vocab = bpe.build_vocab(base, merges)
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(bpe.tokenizer_json(vocab, merges), f, ensure_ascii=False)
    with open(os.path.join(OUT, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(bpe.tokenizer_config(vocab, 1024), f, ensure_ascii=False, indent=1)
    print(f"tokenizer written, {time.time() - t0:.1f}s")

    enc = bpe.Bpe.load(os.path.join(OUT, "tokenizer.json"))
    eot = vocab["<|endoftext|>"]
    streams: dict[str, list[int]] = {"train": []}
    doc_index = []
    for i, d in enumerate(docs):
        ids = enc.encode(d["text"])
        key = "train" if d["split"] == "train" else f"eval_{d['source']}"
        streams.setdefault(key, [])
        doc_index.append({"name": d["name"], "source": d["source"], "split": d["split"],
                          "start": len(streams[key]), "tokens": len(ids), "bytes": len(d["text"].encode("utf-8"))})
        streams[key].extend(ids)
        streams[key].append(eot)
    for k, v in streams.items():
        np.array(v, dtype=np.uint16).tofile(os.path.join(WORK, f"{k}.u16"))
        print(k, len(v), "tokens")
    with open(os.path.join(WORK, "docs.json"), "w") as f:
        json.dump(doc_index, f)
    print(f"done {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
