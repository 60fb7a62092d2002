"""Record PyTorch's router logits (and per-token surprisal) for the SHIPPED bf16 weights of models/demo on a
held-out passage, for test/unit/demo/demoModel.test.ts (so CI never needs torch).

/usr/bin/python3 tools/train-demo/fixture.py
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from export import read_safetensors  # noqa: E402
from model import Qwen2MoeLM  # noqa: E402

WORK = os.path.join(HERE, "work", "v2")
DEMO = os.path.join(ROOT, "models", "demo")
OUT = os.path.join(ROOT, "test", "fixtures", "demo", "router_logits.json")
N_TOKENS = 96


def main() -> None:
    torch.set_num_threads(1)
    cfg = json.load(open(os.path.join(DEMO, "config.json")))
    m = Qwen2MoeLM(cfg)
    st = read_safetensors(os.path.join(DEMO, "model.safetensors"))
    m.load_state_dict(st)
    m.eval()
    # A held-out passage that mixes prose and code: part of a held-out Markdown document (Node.js API
    # docs or an npm README) with a fenced code block near its start.
    docs = json.load(open(os.path.join(WORK, "docs.json")))
    heldout = {json.loads(line)["name"]: json.loads(line)["text"] for line in open(os.path.join(WORK, "heldout.jsonl"))}
    eval_md = np.fromfile(os.path.join(WORK, "eval_md.u16"), dtype=np.uint16)
    d = next(x for x in docs if x["source"] == "md" and x["split"] == "eval" and x["tokens"] >= 400
             and "```" in heldout[x["name"]][:1500])
    ids = [int(v) for v in eval_md[d["start"] + 100: d["start"] + 100 + N_TOKENS]]
    with torch.no_grad():
        logits, routing = m(torch.tensor([ids]))
        logp = F.log_softmax(logits[0].float(), dim=-1)
    surprisal = [None] + [float(-logp[t - 1, ids[t]]) for t in range(1, len(ids))]
    layers = []
    for i, r in enumerate(routing):
        if r is None:
            continue
        rl, _, sel = r
        layers.append({
            "layer": i,
            "routerLogits": [[float(f"{v:.7g}") for v in row] for row in rl.tolist()],
            "topk": sel.tolist(),
        })
    sha = hashlib.sha256(open(os.path.join(DEMO, "model.safetensors"), "rb").read()).hexdigest()
    out = {
        "about": "PyTorch (tools/train-demo/model.py, fp32 compute) on the shipped bf16 weights of models/demo; "
                 "made by tools/train-demo/fixture.py",
        "source": d["name"],
        "modelSha256": sha,
        "ids": ids,
        "layers": layers,
        "surprisal": [None if s is None else float(f"{s:.7g}") for s in surprisal],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT}: {len(ids)} tokens, {len(layers)} MoE layers, from {d['name']}")


if __name__ == "__main__":
    main()
