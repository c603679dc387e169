"""Batch collation: pair tokenization with passage-first truncation, dynamic padding, length sorting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase


def encode_pairs(tokenizer: PreTrainedTokenizerBase, queries: Sequence[str], passages: Sequence[str],
                 max_length: int) -> dict[str, torch.Tensor]:
    """Tokenize (query, passage) pairs, padded to the longest pair of the batch.

    Truncation cuts the passage first; only a query that alone overflows ``max_length`` makes the
    batch fall back to cutting the longer side token by token (``longest_first``).
    """
    kwargs = dict(max_length=max_length, padding=True, return_tensors="pt")
    try:
        enc = tokenizer(list(queries), list(passages), truncation="only_second", **kwargs)
    except Exception:  # a query longer than max_length: the tokenizer cannot cut only the passage
        enc = tokenizer(list(queries), list(passages), truncation="longest_first", **kwargs)
    return dict(enc)


class PairCollator:
    """Turns a list of examples (``query``, ``passage`` and optionally ``label``, ``qid``, ``pid``) into a batch."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int = 512) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = {
            "encoding": encode_pairs(self.tokenizer, [e["query"] for e in examples],
                                     [e["passage"] for e in examples], self.max_length)
        }
        if "label" in examples[0]:
            batch["labels"] = torch.tensor([float(e["label"]) for e in examples], dtype=torch.float32)
        if "qid" in examples[0]:
            batch["qid"] = [e["qid"] for e in examples]
            batch["pid"] = [e["pid"] for e in examples]
        if "first_stage" in examples[0]:
            batch["first_stage"] = [float(e["first_stage"]) for e in examples]
        return batch


def length_sorted(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (less padding, early OOM)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i: i + batch_size] for i in range(0, len(order), batch_size)]


def batch_size(batch: dict[str, Any]) -> int:
    """Pairs in a collated batch (for throughput logging)."""
    return int(batch["encoding"]["input_ids"].shape[0])


def batch_tokens(batch: dict[str, Any]) -> int:
    """Real (unpadded) tokens in a collated batch (for throughput logging)."""
    return int(batch["encoding"]["attention_mask"].sum())
