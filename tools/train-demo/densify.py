"""Make the second phase's dense twin from the first edition's MoE weights, so both models start phase 4 from
the same trained trunk (embeddings, attention, norms are copied exactly) and differ only in the MLP.

/usr/bin/python3 tools/train-demo/densify.py work/moe-v1.safetensors work/v2/dense-init.safetensors

The dense MLP has the MoE's active width (k·moe_intermediate + shared = 2·128 + 384 = 640): its first 384 units
are the shared expert with the mean σ(shared_expert_gate·x) folded into down_proj, the other 256 are the two
experts with the highest mean router probability on the first phase-4 batch, each down_proj scaled by that mean
probability — the dense MLP's output is the MoE's expected MLP output under a constant gate.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export import read_safetensors, write_safetensors  # noqa: E402
from model import Qwen2MoeLM  # noqa: E402
from train import config_for, load_stream  # noqa: E402


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    moe = Qwen2MoeLM(config_for("moe"))
    moe.load_state_dict(read_safetensors(src))
    moe.eval()
    train = load_stream("train", "v2")
    g = np.random.default_rng([1234, 0])  # train.py's batch 0
    starts = g.integers(0, len(train) - 513, size=4)
    b = torch.from_numpy(np.stack([train[s:s + 512] for s in starts]).astype(np.int64))
    # Per layer: the MLP's input (post-attention norm) on batch 0, to measure the gates' mean values.
    inputs: list[torch.Tensor] = []
    hooks = [layer.mlp.register_forward_hook(lambda m, i, o: inputs.append(i[0].reshape(-1, i[0].shape[-1])))
             for layer in moe.model.layers]
    with torch.no_grad():
        moe(b)
    for h in hooks:
        h.remove()
    dense_cfg = config_for("dense")
    st = {k: v for k, v in read_safetensors(src).items() if ".mlp." not in k}
    k = dense_cfg["num_experts_per_tok"]
    for i, layer in enumerate(moe.model.layers):
        mlp = layer.mlp
        x = inputs[i]
        with torch.no_grad():
            shared_gate = torch.sigmoid(mlp.shared_expert_gate(x)).mean()
            probs = torch.softmax(mlp.gate(x), dim=-1).mean(0)
        top = torch.topk(probs, k).indices.tolist()
        gates = [mlp.shared_expert.gate_proj.weight] + [mlp.experts[e].gate_proj.weight for e in top]
        ups = [mlp.shared_expert.up_proj.weight] + [mlp.experts[e].up_proj.weight for e in top]
        downs = [mlp.shared_expert.down_proj.weight * shared_gate] + [mlp.experts[e].down_proj.weight * probs[e] for e in top]
        p = f"model.layers.{i}.mlp."
        st[p + "gate_proj.weight"] = torch.cat(gates, 0).detach()
        st[p + "up_proj.weight"] = torch.cat(ups, 0).detach()
        st[p + "down_proj.weight"] = torch.cat(downs, 1).detach()
        print(f"layer {i}: shared gate {float(shared_gate):.3f}, experts {top} p={[round(float(probs[e]), 3) for e in top]}")
    dense = Qwen2MoeLM(dense_cfg)
    dense.load_state_dict(st)  # strict: every dense tensor is there with its shape
    write_safetensors(dst, st)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
