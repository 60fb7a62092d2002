"""Encode held-out docs with our Python BPE encoder, for tools/bpe/verify.mjs to compare with HF tokenizers.

python3 tools/bpe/dump_ids.py models/demo/tokenizer.json tools/train-demo/work/corpus.jsonl OUT.json
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402

tok, corpus, out = sys.argv[1:4]
enc = bpe.Bpe.load(tok)
items = []
with open(corpus, encoding="utf-8") as f:
    for line in f:
        d = json.loads(line)
        if d["split"] == "eval":
            items.append({"name": d["name"], "text": d["text"], "ids": enc.encode(d["text"])})
extra = ["naïve café — “quotes” ✓ 日本語 🙂\r\n\ttabs   and  spaces\n\n\nIt's they'LL 12345 x=1+2;", "", " ", "\u00a0nbsp", "a\u0301 combining"]
for i, t in enumerate(extra):
    items.append({"name": f"extra{i}", "text": t, "ids": enc.encode(t)})
json.dump(items, open(out, "w", encoding="utf-8"), ensure_ascii=False)
print(len(items), "docs,", sum(len(x["ids"]) for x in items), "ids")
