"""Train the demo Qwen2-MoE (or its dense twin with the same active parameters) on CPU.

/usr/bin/python3 tools/train-demo/train.py --variant moe|dense [--steps N] [--threads 1]
Reads tools/train-demo/work/{train,eval_*}.u16 from prepare.py. Saves work/<variant>.pt every
--ckpt-every steps (atomically) so an interrupted run still leaves a usable model; logs JSON lines
to work/<variant>.log. Both variants draw identical batches (same seed), so with the same --steps
they see exactly the same tokens.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import BalanceWindow, Qwen2MoeLM, router_losses  # noqa: E402

WORK = os.path.join(HERE, "work")
EVAL_SOURCES = {"v1": ("ts", "py", "pydoc", "kjv"), "v2": ("js", "md", "handbook", "fortune", "pydoc", "py", "data", "dts")}

BASE = {
    "architectures": ["Qwen2MoeForCausalLM"],
    "model_type": "qwen2_moe",
    "vocab_size": 4096,
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 1024,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-6,
    "use_cache": True,
    "tie_word_embeddings": True,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "use_sliding_window": False,
    "sliding_window": None,
    "max_window_layers": 4,
    "attention_dropout": 0.0,
    "qkv_bias": True,
    "decoder_sparse_step": 1,
    "moe_intermediate_size": 128,
    "shared_expert_intermediate_size": 384,
    "num_experts_per_tok": 2,
    "num_experts": 16,
    "norm_topk_prob": False,
    "output_router_logits": False,
    "router_aux_loss_coef": 0.01,
    "mlp_only_layers": [],
    "bos_token_id": None,
    "eos_token_id": 4093,
    "pad_token_id": None,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
}


def config_for(variant: str) -> dict:
    cfg = dict(BASE)
    if variant == "dense":
        # Same family, every layer dense (mlp_only_layers), MLP width = active expert width:
        # k·moe_intermediate + shared_expert_intermediate = 2·128 + 384 = 640.
        cfg["mlp_only_layers"] = list(range(cfg["num_hidden_layers"]))
        cfg["intermediate_size"] = cfg["num_experts_per_tok"] * cfg["moe_intermediate_size"] + cfg["shared_expert_intermediate_size"]
    else:
        cfg["intermediate_size"] = 640  # unused when every layer is sparse; kept for loaders that read it
    return cfg


def data_dir(corpus: str) -> str:
    """work/ holds the first edition's corpus (prepare.py), work/v2/ the second's (corpus2.py)."""
    return WORK if corpus == "v1" else os.path.join(WORK, corpus)


def load_stream(name: str, corpus: str = "v1") -> np.ndarray:
    return np.fromfile(os.path.join(data_dir(corpus), f"{name}.u16"), dtype=np.uint16)


@torch.no_grad()
def evaluate(model, stream: np.ndarray, seq: int, max_windows: int | None = None, spread: bool = False) -> tuple[float, int]:
    """Mean nats/token over non-overlapping windows (every token after a window's first is scored)."""
    model.eval()
    n_all = (len(stream) - 1) // seq
    # At most max_windows windows: the first ones, or (spread) evenly spaced over the stream's documents.
    n = n_all if max_windows is None else min(n_all, max_windows)
    picks = [int(i * n_all / n) for i in range(n)] if spread else list(range(n))
    tot, cnt = 0.0, 0
    for i in range(0, n, 8):
        xs = [torch.from_numpy(stream[j * seq:(j + 1) * seq + 1].astype(np.int64)) for j in picks[i:i + 8]]
        b = torch.stack(xs)
        logits, _ = model(b[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1), reduction="sum")
        tot += loss.item()
        cnt += b[:, 1:].numel()
    model.train()
    return tot / max(cnt, 1), cnt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", choices=["moe", "dense"], default="moe")
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--aux", type=float, default=0.01)
    ap.add_argument("--zloss", type=float, default=1e-3)
    ap.add_argument("--balance-window", type=int, default=1,
                    help="pool the balance loss's expert counts over the last N steps (1 = within the batch)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--ckpt-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--decay-start", type=int, default=None, help="step where LR decay begins (default 80%% of --steps)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--corpus", choices=list(EVAL_SOURCES), default="v1")
    ap.add_argument("--init-from", default=None,
                    help="start from these bf16 safetensors weights with a fresh optimizer (a new phase on a new corpus)")
    ap.add_argument("--keep-every", type=int, default=0, help="also keep a copy of the checkpoint every N steps")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = config_for(a.variant)
    model = Qwen2MoeLM(cfg)
    model.init_weights(a.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    train = load_stream("train", a.corpus)
    ev = {k: load_stream(f"eval_{k}", a.corpus) for k in EVAL_SOURCES[a.corpus]}
    ckpt = os.path.join(data_dir(a.corpus), f"{a.variant}.pt")
    logf = open(os.path.join(data_dir(a.corpus), f"{a.variant}.log"), "a")
    step0 = 0
    window = BalanceWindow(a.balance_window) if a.balance_window > 1 else None
    if a.init_from and not (a.resume and os.path.exists(ckpt)):
        from export import read_safetensors
        model.load_state_dict(read_safetensors(a.init_from))
    if a.resume and os.path.exists(ckpt):
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step0 = st["step"]
        if window is not None and "balance" in st:
            window.load_state_dict(st["balance"])
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"variant": a.variant, "params": n_params, "args": vars(a)}), file=logf, flush=True)

    decay_start = a.decay_start if a.decay_start is not None else int(a.steps * 0.8)

    def lr_at(s: int) -> float:
        # Warmup-stable-decay: constant after warmup, linear decay to 10% from decay_start. On a shared
        # machine the step count we can afford is only known late, and with WSD a run that was
        # resumed with a later decay_start is bit-identical to one launched with it.
        if s < a.warmup:
            return a.lr * (s + 1) / a.warmup
        if s < decay_start:
            return a.lr
        prog = (s - decay_start) / max(1, a.steps - decay_start)
        return a.lr * (1.0 - 0.9 * min(1.0, prog))

    t0 = time.time()
    for step in range(step0, a.steps):
        # Batches depend only on (seed, step): identical for both variants and across resumes.
        g = np.random.default_rng([a.seed, step])
        starts = g.integers(0, len(train) - a.seq - 1, size=a.batch)
        b = torch.from_numpy(np.stack([train[s:s + a.seq + 1] for s in starts]).astype(np.int64))
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        logits, routing = model(b[:, :-1])
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))
        aux, z = router_losses(routing, cfg["num_experts"], cfg["num_experts_per_tok"], window)
        loss = ce + a.aux * aux + a.zloss * z
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        rec = {"step": step + 1, "ce": round(ce.item(), 4), "aux": round(float(aux), 4), "z": round(float(z), 3),
               "lr": round(lr_at(step), 6), "elapsed": round(time.time() - t0, 1)}
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps:
            rec["eval"] = {k: round(evaluate(model, v, a.seq, 16)[0], 4) for k, v in ev.items()}
        print(json.dumps(rec), file=logf, flush=True)
        if (step + 1) % a.ckpt_every == 0 or step + 1 == a.steps:
            st = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1, "config": cfg}
            if window is not None:
                st["balance"] = window.state_dict()
            torch.save(st, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
        if a.keep_every and (step + 1) % a.keep_every == 0:
            torch.save({"model": model.state_dict(), "step": step + 1, "config": cfg}, f"{ckpt[:-3]}-{step + 1}.pt")
    print(json.dumps({"done": True, "elapsed": round(time.time() - t0, 1)}), file=logf, flush=True)


if __name__ == "__main__":
    main()
