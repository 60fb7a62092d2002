"""Small byte-level BPE (GPT-2 / Qwen2 style): trainer, encoder, tokenizer.json writer.

No tokenizer-training package is reachable on our machines, so this is our own. The emitted
tokenizer.json uses the same pipeline as Qwen2's (Split with Qwen2's regex, ByteLevel without
its own regex, BPE over byte-level symbols, ByteLevel decoder), so HF Rust `tokenizers` gives
exactly the ids that `Bpe.encode` gives (checked by tools/bpe/verify.mjs).

Needs the `regex` module (Unicode property classes), which the pyenv python3 has.
"""
from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict

import regex

# Qwen2's pre-tokenizer pattern (as in its tokenizer.json).
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLIT = regex.compile(SPLIT_PATTERN)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable-char map (what ByteLevel uses)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENC = bytes_to_unicode()


def pretokenize(text: str) -> list[str]:
    return _SPLIT.findall(text)


def to_symbols(piece: str) -> str:
    return "".join(BYTE_ENC[b] for b in piece.encode("utf-8"))


def train(texts, vocab_size: int, log=print) -> tuple[list[str], list[tuple[str, str]]]:
    """Returns (base symbols, merges). Incremental pair counts + lazy max-heap: each merge only
    touches the words that contain the pair."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(to_symbols(p) for p in pretokenize(t))
    words = [list(w) for w in counts]
    freqs = [counts[w] for w in counts]
    base = [BYTE_ENC[b] for b in range(256)]
    n_merges = vocab_size - len(base) - len(SPECIAL_TOKENS)

    pair_count: defaultdict[tuple[str, str], int] = defaultdict(int)
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        f = freqs[i]
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += f
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        cur = pair_count.get(pair, 0)
        if cur <= 0:
            continue
        if -negc != cur:  # stale entry: re-push with the current count
            heapq.heappush(heap, (-cur, pair))
            continue
        merges.append(pair)
        a, b = pair
        new = a + b
        touched: set[tuple[str, str]] = set()
        for i in list(where[pair]):
            w = words[i]
            f = freqs[i]
            for x, y in zip(w, w[1:]):
                pair_count[(x, y)] -= f
                touched.add((x, y))
            out = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for x, y in zip(out, out[1:]):
                pair_count[(x, y)] += f
                where[(x, y)].add(i)
                touched.add((x, y))
        del pair_count[pair]
        del where[pair]
        for p in touched:
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
        if len(merges) % 500 == 0:
            log(f"  {len(merges)} merges, last {new!r} ({cur})")
    return base, merges


class Bpe:
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache: dict[str, list[int]] = {}
        self.special = {t: vocab[t] for t in SPECIAL_TOKENS if t in vocab}

    def _bpe(self, sym: str) -> list[int]:
        hit = self.cache.get(sym)
        if hit is not None:
            return hit
        w = list(sym)
        while len(w) > 1:
            best = None
            best_rank = None
            for k in range(len(w) - 1):
                r = self.ranks.get((w[k], w[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = k, r
            if best is None:
                break
            a, b = w[best], w[best + 1]
            out = []
            j = 0
            while j < len(w):  # merge every occurrence of the best pair, left to right
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            w = out
        ids = [self.vocab[s] for s in w]
        if len(self.cache) < 200_000:
            self.cache[sym] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for p in pretokenize(text):
            ids.extend(self._bpe(to_symbols(p)))
        return ids

    @staticmethod
    def load(path: str) -> "Bpe":
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        vocab = dict(tj["model"]["vocab"])
        for t in tj["added_tokens"]:
            vocab[t["content"]] = t["id"]
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in tj["model"]["merges"]]
        return Bpe(vocab, merges)  # type: ignore[arg-type]


def build_vocab(base: list[str], merges: list[tuple[str, str]]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for s in base:
        vocab[s] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for t in SPECIAL_TOKENS:
        vocab[t] = len(vocab)
    return vocab


def tokenizer_json(vocab: dict[str, int], merges: list[tuple[str, str]]) -> dict:
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    model_vocab = {k: v for k, v in vocab.items() if k not in SPECIAL_TOKENS}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in SPECIAL_TOKENS
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
                bl,
            ],
        },
        "post_processor": dict(bl),
        "decoder": dict(bl),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": model_vocab,
            "merges": [f"{a} {b}" for a, b in merges],  # byte-level symbols never hold a space
        },
    }


def tokenizer_config(vocab: dict[str, int], max_len: int) -> dict:
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "special": True}
            for t in SPECIAL_TOKENS
        },
        "bos_token": None,
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "model_max_length": max_len,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
    }
