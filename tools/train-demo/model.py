"""A compact PyTorch Qwen2-MoE causal LM that computes what transformers' Qwen2MoeForCausalLM computes
for the same config (RMSNorm in fp32, rotate-half RoPE, GQA attention with q/k/v bias, softmax → top-k
router with optional renormalisation, shared expert × sigmoid(shared_expert_gate), decoder_sparse_step /
mlp_only_layers, tied or untied head). Parameter names are HF's, so state_dict() keys are the
safetensors names. Written for torch 1.13 on CPU (no scaled_dot_product_attention there).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(cfg: dict, T: int):
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    pos = torch.arange(T).float()
    freqs = torch.outer(pos, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class Attention(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        D = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg["num_key_value_heads"]
        self.hd = D // self.nh
        bias = cfg.get("qkv_bias", True)
        self.q_proj = nn.Linear(D, self.nh * self.hd, bias=bias)
        self.k_proj = nn.Linear(D, self.nkv * self.hd, bias=bias)
        self.v_proj = nn.Linear(D, self.nkv * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.nh * self.hd, D, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(2, 3)) / math.sqrt(self.hd)
        att = att + mask
        att = F.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        y = (att @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, D: int, I: int):
        super().__init__()
        self.gate_proj = nn.Linear(D, I, bias=False)
        self.up_proj = nn.Linear(D, I, bias=False)
        self.down_proj = nn.Linear(I, D, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class SparseMoe(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        D = cfg["hidden_size"]
        self.E = cfg["num_experts"]
        self.k = cfg["num_experts_per_tok"]
        self.norm_topk = cfg["norm_topk_prob"]
        self.gate = nn.Linear(D, self.E, bias=False)
        self.experts = nn.ModuleList([MLP(D, cfg["moe_intermediate_size"]) for _ in range(self.E)])
        self.shared_expert = MLP(D, cfg["shared_expert_intermediate_size"])
        self.shared_expert_gate = nn.Linear(D, 1, bias=False)

    def forward(self, x):
        B, T, D = x.shape
        h = x.reshape(-1, D)
        logits = self.gate(h)
        probs = F.softmax(logits, dim=1, dtype=torch.float)
        w, sel = torch.topk(probs, self.k, dim=-1)
        if self.norm_topk:
            w = w / w.sum(dim=-1, keepdim=True)
        w = w.to(h.dtype)
        out = torch.zeros_like(h)
        flat_sel = sel.reshape(-1)
        order = torch.argsort(flat_sel, stable=True)
        counts = torch.bincount(flat_sel, minlength=self.E).tolist()
        tok = order // self.k
        wts = w.reshape(-1)[order]
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            idx = tok[start:start + n]
            y = self.experts[e](h.index_select(0, idx)) * wts[start:start + n, None]
            out = out.index_add(0, idx, y)
            start += n
        out = out + torch.sigmoid(self.shared_expert_gate(h)) * self.shared_expert(h)
        return out.view(B, T, D), logits, probs, sel


class Layer(nn.Module):
    def __init__(self, cfg: dict, i: int):
        super().__init__()
        D = cfg["hidden_size"]
        self.self_attn = Attention(cfg)
        sparse = (i not in cfg.get("mlp_only_layers", [])) and cfg["num_experts"] > 0 and (i + 1) % cfg["decoder_sparse_step"] == 0
        self.mlp = SparseMoe(cfg) if sparse else MLP(D, cfg["intermediate_size"])
        self.input_layernorm = RMSNorm(D, cfg["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(D, cfg["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.mlp(self.post_attention_layernorm(x))
        if isinstance(h, tuple):
            h, logits, probs, sel = h
            return x + h, (logits, probs, sel)
        return x + h, None


class Inner(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([Layer(cfg, i) for i in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class Qwen2MoeLM(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        self.model = Inner(cfg)
        self.tied = cfg.get("tie_word_embeddings", False)
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def init_weights(self, seed: int):
        g = torch.Generator().manual_seed(seed)
        std = self.cfg.get("initializer_range", 0.02)
        L = self.cfg["num_hidden_layers"]
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight") or name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            else:
                s = std / math.sqrt(2 * L) if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=g) * s)

    def forward(self, ids):
        B, T = ids.shape
        x = self.model.embed_tokens(ids)
        cos, sin = rope_cos_sin(self.cfg, T)
        mask = torch.full((T, T), float("-inf")).triu(1)
        routing = []
        for layer in self.model.layers:
            x, r = layer(x, cos, sin, mask)
            routing.append(r)
        x = self.model.norm(x)
        W = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return x @ W.t(), routing


def router_losses(routing, E: int, k: int, history=None):
    """Switch-style balance loss E·Σ f_i·P_i (1.0 when perfectly balanced), averaged over MoE layers,
    and the router z-loss mean(logsumexp(logits)²).

    history (a BalanceWindow) pools f over the last steps' batches ("global-batch" balancing, Qiu et al. 2025,
    arXiv:2501.11873): balanced over a window of many documents rather than within a 4-sequence batch, so a
    batch of code may favour the experts that code uses and the router can specialise by domain."""
    aux = 0.0
    z = 0.0
    n = 0
    for r in routing:
        if r is None:
            continue
        logits, probs, sel = r
        counts = torch.bincount(sel.reshape(-1), minlength=E).float()
        f = counts / sel.numel() if history is None else history.pooled(n, counts)  # n: this MoE layer's index
        P = probs.mean(0)
        aux = aux + E * (f * P).sum()
        z = z + torch.logsumexp(logits.float(), dim=-1).pow(2).mean()
        n += 1
    if n == 0:
        return torch.tensor(0.0), torch.tensor(0.0)
    return aux / n, z / n


class BalanceWindow:
    """Per MoE layer, the expert counts of the last `steps` batches (the current one included)."""

    def __init__(self, steps: int):
        self.steps = steps
        self.counts: list[list[torch.Tensor]] = []

    def pooled(self, layer: int, counts: torch.Tensor) -> torch.Tensor:
        while len(self.counts) <= layer:
            self.counts.append([])
        q = self.counts[layer]
        q.append(counts.detach())
        del q[:-self.steps]
        total = torch.stack(q).sum(0)
        return total / total.sum()

    def state_dict(self) -> dict:
        return {"steps": self.steps, "counts": self.counts}

    def load_state_dict(self, st: dict) -> None:
        self.counts = [list(q)[-self.steps:] for q in st["counts"]]
