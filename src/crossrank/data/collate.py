"""Batch collation: pair tokenization with passage-first truncation, dynamic padding, length sorting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase


def encode_pairs(tokenizer: PreTrainedTokenizerBase, queries: Sequence[str], passages: Sequence[str],
                 max_length: int) -> dict[str, torch.Tensor]:
    """Tokenize (query, passage) pairs, padded to the longest pair of the batch.

    Truncation cuts the passage first; only a query that alone overflows ``max_length`` makes the
    batch fall back to cutting the longer side token by token (``longest_first``).
    """
    return dict(_tokenize(tokenizer, queries, passages, max_length, padding=True, return_tensors="pt"))


def _tokenize(tokenizer: PreTrainedTokenizerBase, queries: Sequence[str], passages: Sequence[str], max_length: int,
              **kwargs: Any) -> Any:
    try:
        return tokenizer(list(queries), list(passages), truncation="only_second", max_length=max_length, **kwargs)
    except Exception:  # a query longer than max_length: the tokenizer cannot cut only the passage
        return tokenizer(list(queries), list(passages), truncation="longest_first", max_length=max_length, **kwargs)


def tokenize_unpadded(tokenizer: PreTrainedTokenizerBase, queries: Sequence[str], passages: Sequence[str],
                      max_length: int) -> dict[str, list[list[int]]]:
    """Token ids of many pairs at once, unpadded (truncated as :func:`encode_pairs` does): the true lengths
    to sort by, and no second tokenization when the batches are padded (:func:`pad_batch`)."""
    return {k: v for k, v in _tokenize(tokenizer, queries, passages, max_length).items()
            if k in ("input_ids", "attention_mask", "token_type_ids")}


def pad_batch(encoded: dict[str, list[list[int]]], indices: Sequence[int], pad_id: int,
              pin: bool = False) -> dict[str, torch.Tensor]:
    """The rows ``indices`` of :func:`tokenize_unpadded`'s output, right-padded to the longest of them
    (in pinned memory with ``pin``, for asynchronous copies to a GPU)."""
    width = max(len(encoded["input_ids"][i]) for i in indices)
    out = {}
    for key, rows in encoded.items():
        array = np.full((len(indices), width), pad_id if key == "input_ids" else 0, dtype=np.int64)
        for r, i in enumerate(indices):
            array[r, : len(rows[i])] = rows[i]
        tensor = torch.from_numpy(array)
        out[key] = tensor.pin_memory() if pin else tensor
    return out


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
