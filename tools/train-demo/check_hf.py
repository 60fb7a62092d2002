"""Checks tools/train-demo/model.py against transformers' own Qwen2MoeForCausalLM outputs, recorded in
test/fixtures/qwen2_moe/ (made by transformers 4.57.6; see test/fixtures/README.md): router logits and
LM logits on the fixture's input must agree to float32 rounding.

/usr/bin/python3 tools/train-demo/check_hf.py
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from export import read_safetensors  # noqa: E402
from model import Qwen2MoeLM  # noqa: E402

FIX = os.path.join(ROOT, "test", "fixtures", "qwen2_moe")


def main():
    cfg = json.load(open(os.path.join(FIX, "config.json")))
    exp = json.load(open(os.path.join(FIX, "expected.json")))
    ids = json.load(open(os.path.join(FIX, "input.json")))["input_ids"]
    m = Qwen2MoeLM(cfg)
    m.load_state_dict(read_safetensors(os.path.join(FIX, "model.safetensors"), dtype="F32"))
    m.eval()
    with torch.no_grad():
        logits, routing = m(torch.tensor(ids))
    worst_router = 0.0
    for ml in exp["moe_layers"]:
        rl = routing[ml["layer"]][0]
        worst_router = max(worst_router, float((rl - torch.tensor(ml["router_logits"])).abs().max()))
        assert rl.topk(cfg["num_experts_per_tok"], dim=-1).indices.sort(-1).values.tolist() == \
            torch.tensor(ml["topk_indices"]).sort(-1).values.tolist(), f"layer {ml['layer']} top-k differs"
    worst_logits = float((logits[0] - torch.tensor(exp["logits"])).abs().max())
    print(f"router logits max|diff| {worst_router:.2e}, LM logits max|diff| {worst_logits:.2e}")
    assert worst_router < 1e-4 and worst_logits < 1e-4, "model.py does not match transformers"
    print("OK: tools/train-demo/model.py computes what transformers' Qwen2MoeForCausalLM computes")


if __name__ == "__main__":
    main()
