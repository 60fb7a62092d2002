"""Export the trained MoE to models/demo (config.json + model.safetensors in bf16) and measure held-out
loss of the MoE and its dense twin with weights rounded to the shipped precision.

/usr/bin/python3 tools/train-demo/export.py [--corpus v1|v2] [--no-eval] [--to PATH] [--only moe|dense|first_edition|previous]
    [--previous PATH]
Reads tools/train-demo/work[/v2]/{moe,dense}.pt; writes models/demo/{config.json,model.safetensors} (or, with
--to, only the bf16 weights to PATH: train.sh keeps the first edition's weights that way) and work[/v2]/eval.json.
On v2 the first edition's weights (work/moe-v1.safetensors) are scored on the same held-out sets too, and with
--previous the bf16 weights of the model being replaced (e.g. an earlier second edition taken from git).
"""
from __future__ import annotations

import json
import os
import struct
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from model import Qwen2MoeLM  # noqa: E402
from train import EVAL_SOURCES, config_for, data_dir, evaluate, load_stream  # noqa: E402

WORK = os.path.join(HERE, "work")
OUT = os.path.join(ROOT, "models", "demo")
EVAL_WINDOWS = int(os.environ.get("EVAL_WINDOWS", "24"))  # per held-out source; CPU time is scarce


def write_safetensors(path: str, tensors: dict[str, torch.Tensor]) -> None:
    """safetensors by hand (no package here): u64 LE header length, JSON header, raw LE data."""
    header: dict = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().to(torch.bfloat16)
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str, dtype: str = "BF16") -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file as float32; all of them must be stored as `dtype` (BF16 or F32)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        assert info["dtype"] == dtype, (name, info["dtype"], dtype)
        if dtype == "BF16":
            t = torch.from_numpy(np.frombuffer(data[s:e], dtype="<i2").copy()).view(torch.bfloat16).float()
        else:
            t = torch.from_numpy(np.frombuffer(data[s:e], dtype="<f4").copy())
        out[name] = t.reshape(info["shape"])
    return out


def shipped_precision(model: Qwen2MoeLM) -> Qwen2MoeLM:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    return model


def load_ckpt(variant: str, corpus: str = "v1") -> tuple[Qwen2MoeLM, dict, int]:
    st = torch.load(os.path.join(data_dir(corpus), f"{variant}.pt"))
    m = Qwen2MoeLM(st["config"])
    m.load_state_dict(st["model"])
    m.eval()
    return m, st["config"], st["step"]


def export(moe: Qwen2MoeLM, cfg: dict, step: int) -> None:
    to = arg("--to", None)
    dest = to or os.path.join(OUT, "model.safetensors")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    write_safetensors(dest, moe.state_dict())
    if to is None:
        with open(os.path.join(OUT, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    # Round-trip check: the file holds exactly the bf16-rounded weights.
    back = read_safetensors(dest)
    shipped_precision(moe)
    for k, v in moe.state_dict().items():
        assert torch.equal(back[k], v), k
    print(f"exported step {step}: {len(back)} tensors to {dest}")


def arg(name: str, default: str | None) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main() -> None:
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    corpus = arg("--corpus", "v1")
    only = arg("--only", None)
    if only:
        moe, cfg, step = None, None, None
    else:
        moe, cfg, step = load_ckpt("moe", corpus)
        export(moe, cfg, step)
    if "--no-eval" in sys.argv:
        return
    models = {"moe": lambda: load_ckpt("moe", corpus), "dense": lambda: load_ckpt("dense", corpus)}
    if corpus != "v1":
        def first_edition():
            m = Qwen2MoeLM(config_for("moe"))
            m.load_state_dict(read_safetensors(os.path.join(WORK, "moe-v1.safetensors")))
            return m.eval(), None, 1560
        models["first_edition"] = first_edition
        previous = arg("--previous", None)
        if previous:
            def previous_model():
                m = Qwen2MoeLM(config_for("moe"))
                m.load_state_dict(read_safetensors(previous))
                return m.eval(), None, None
            models["previous"] = previous_model
    results: dict = {"windows": EVAL_WINDOWS}
    for variant, load in models.items():
        # `--only VARIANT` scores one model into eval_VARIANT.json, so the three can run as parallel processes
        # (each on one core); the run without --only then takes those results as they are.
        cache = os.path.join(data_dir(corpus), f"eval_{variant}.json")
        if only and variant != only:
            continue
        if not only and os.path.exists(cache):
            cached = json.load(open(cache))
            if cached["windows"] == EVAL_WINDOWS and (variant in ("first_edition", "previous") or cached["result"]["step"] == step):
                results[variant] = cached["result"]
                continue
        m, c, s = load()
        shipped_precision(m)
        r: dict = {"step": s, "params": sum(p.numel() for p in m.parameters())}
        tot_n, tot_l = 0, 0.0
        for src in EVAL_SOURCES[corpus]:
            t0 = time.time()
            loss, n = evaluate(m, load_stream(f"eval_{src}", corpus), 512, EVAL_WINDOWS, spread=True)
            r[src] = {"nats": loss, "tokens": n}
            tot_n += n
            tot_l += loss * n
            print(variant, src, round(loss, 4), n, f"{time.time() - t0:.0f}s", flush=True)
        r["all"] = {"nats": tot_l / tot_n, "ppl": float(np.exp(tot_l / tot_n)), "tokens": tot_n}
        results[variant] = r
        if only:
            with open(cache, "w") as f:
                json.dump({"windows": EVAL_WINDOWS, "result": r}, f, indent=1)
    if only:
        return
    results["moe_step"] = results["moe"]["step"]
    with open(os.path.join(data_dir(corpus), "eval.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
