"""bench/forwardCompare helper: the same OLMoE prefill in PyTorch on CPU, as a user without MoE Lens
would run it (transformers' eager OLMoE, written out so Debian's python3-torch 1.13 runs it alone).

    /usr/bin/python3 bench/forwardTorch.py DIR IDS_FILE THREADS

Reads the same bf16 safetensors shards the engine reads (header + raw bytes, widened to float32),
runs embeddings → layers (q/k/v/o with whole-projection q/k RMSNorm, RoPE, causal softmax attention,
softmax router top-k without renormalisation, SwiGLU experts on their routed rows) → final norm →
LM head with the surprisal of each next token (log-sum-exp minus the target logit), and prints one
JSON line: {"threads", "torch", "seconds" (best of 2 timed runs after a warm-up), "load_seconds"}.
The caller sets OMP/OpenBLAS threads to THREADS so nothing is oversubscribed.
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(folder):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    out = {}
    for name in files:
        with open(os.path.join(folder, name), "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
            base = 8 + n
            raw = np.fromfile(os.path.join(folder, name), dtype=np.uint8)
        for key, meta in header.items():
            if key == "__metadata__":
                continue
            a, b = meta["data_offsets"]
            chunk = raw[base + a: base + b]
            if meta["dtype"] == "BF16":
                wide = (chunk.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            elif meta["dtype"] == "F32":
                wide = chunk.view(np.float32)
            else:
                raise SystemExit(f"forwardTorch: dtype {meta['dtype']} not handled")
            out[key] = torch.from_numpy(wide.reshape(meta["shape"]).copy())
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(T, hd, theta):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], -1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, -1)
    return torch.cat([-x2, x1], -1)


def forward(w, cfg, ids):
    T = len(ids)
    D, H, E, k = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_experts"], cfg["num_experts_per_tok"]
    hd, eps = D // H, cfg["rms_norm_eps"]
    cos, sin = rope_tables(T, hd, cfg["rope_theta"])
    mask = torch.full((T, T), float("-inf")).triu(1)
    ids_t = torch.tensor(ids)
    h = w["model.embed_tokens.weight"][ids_t]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        x = rms_norm(h, w[f"{p}.input_layernorm.weight"], eps)
        q = rms_norm(x @ w[f"{p}.self_attn.q_proj.weight"].T, w[f"{p}.self_attn.q_norm.weight"], eps)
        kk = rms_norm(x @ w[f"{p}.self_attn.k_proj.weight"].T, w[f"{p}.self_attn.k_norm.weight"], eps)
        v = x @ w[f"{p}.self_attn.v_proj.weight"].T
        q, kk, v = (t.view(T, H, hd).transpose(0, 1) for t in (q, kk, v))  # [H, T, hd]
        q = q * cos + rotate_half(q) * sin
        kk = kk * cos + rotate_half(kk) * sin
        probs = torch.softmax(q @ kk.transpose(1, 2) / hd**0.5 + mask, -1)
        a = (probs @ v).transpose(0, 1).reshape(T, D)
        h = h + a @ w[f"{p}.self_attn.o_proj.weight"].T
        x = rms_norm(h, w[f"{p}.post_attention_layernorm.weight"], eps)
        scores = torch.softmax(x @ w[f"{p}.mlp.gate.weight"].T, -1)
        top_w, top_e = torch.topk(scores, k, -1)
        out = torch.zeros_like(x)
        for e in range(E):
            rows, slot = torch.where(top_e == e)
            if rows.numel() == 0:
                continue
            xe = x[rows]
            g = xe @ w[f"{p}.mlp.experts.{e}.gate_proj.weight"].T
            u = xe @ w[f"{p}.mlp.experts.{e}.up_proj.weight"].T
            ye = (torch.nn.functional.silu(g) * u) @ w[f"{p}.mlp.experts.{e}.down_proj.weight"].T
            out.index_add_(0, rows, ye * top_w[rows, slot, None])
        h = h + out
    hidden = rms_norm(h, w["model.norm.weight"], eps)
    logits = hidden @ w["lm_head.weight"].T  # [T, V]
    lse = torch.logsumexp(logits, -1)
    target = logits[torch.arange(T - 1), ids_t[1:]]
    return lse[:-1] - target  # surprisal of each next token


def main():
    folder, ids_file, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    with open(os.path.join(folder, "config.json")) as fh:
        cfg = json.load(fh)
    with open(ids_file) as fh:
        ids = [int(t) for t in fh.read().split(",")]
    t0 = time.perf_counter()
    w = read_safetensors(folder)
    load = time.perf_counter() - t0
    with torch.no_grad():
        forward(w, cfg, ids[:32])  # warm-up
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            s = forward(w, cfg, ids)
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"threads": threads, "torch": torch.__version__, "seconds": best, "load_seconds": load, "mean_surprisal": float(s.mean())}))


if __name__ == "__main__":
    main()
