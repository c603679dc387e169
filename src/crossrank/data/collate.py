"""Batch collation: pair tokenization with passage-first truncation, dynamic padding, length sorting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
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


@dataclass
class PackedPairs:
    """Tokenized pairs, unpadded, in flat arrays (compact to keep, sort and send between processes): pair ``i``
    is ``ids[offsets[i]: offsets[i] + lengths[i]]``, its token types at the same places (None when the model
    has none)."""

    ids: np.ndarray
    type_ids: np.ndarray | None
    offsets: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def concat(cls, parts: Sequence[PackedPairs]) -> PackedPairs:
        """The pairs of ``parts``, in order."""
        if len(parts) == 1:
            return parts[0]
        lengths = np.concatenate([p.lengths for p in parts])
        types = None if parts[0].type_ids is None else np.concatenate([p.type_ids for p in parts])
        return cls(np.concatenate([p.ids for p in parts]), types, _offsets(lengths), lengths)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """Where each row starts in the flat arrays."""
    offsets = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return offsets


def tokenize_packed(tokenizer: PreTrainedTokenizerBase, queries: Sequence[str], passages: Sequence[str],
                    max_length: int) -> PackedPairs:
    """Token ids of many pairs at once, truncated as :func:`encode_pairs` does and unpadded: their true lengths
    to sort by, and no second tokenization when batches are padded (:func:`pad_packed`)."""
    enc = _tokenize(tokenizer, queries, passages, max_length, return_attention_mask=False)
    rows = enc["input_ids"]
    lengths = np.fromiter(map(len, rows), dtype=np.int32, count=len(rows))
    offsets = _offsets(lengths)
    total = int(lengths.sum())
    ids = np.fromiter(chain.from_iterable(rows), dtype=np.int32, count=total)
    types = enc.get("token_type_ids")
    type_ids = None if types is None else np.fromiter(chain.from_iterable(types), dtype=np.int8, count=total)
    return PackedPairs(ids, type_ids, offsets, lengths)


def pad_packed(packed: PackedPairs, indices: Sequence[int] | np.ndarray, pad_id: int,
               pin: bool = False) -> dict[str, torch.Tensor]:
    """The pairs ``indices`` of ``packed`` as a batch right-padded to the longest of them (in pinned memory with
    ``pin``, for asynchronous copies to a GPU)."""
    indices = np.asarray(indices, dtype=np.int64)
    lengths = packed.lengths[indices]
    width = int(lengths.max())
    cols = np.arange(width)
    mask = cols[None, :] < lengths[:, None]
    gather = np.where(mask, packed.offsets[indices][:, None] + cols[None, :], 0)
    arrays = {"input_ids": np.where(mask, packed.ids[gather], pad_id).astype(np.int64),
              "attention_mask": mask.astype(np.int64)}
    if packed.type_ids is not None:
        arrays["token_type_ids"] = np.where(mask, packed.type_ids[gather], 0).astype(np.int64)
    out = {}
    for key, array in arrays.items():
        tensor = torch.from_numpy(array)
        out[key] = tensor.pin_memory() if pin else tensor
    return out


class PairCollator:
    """Turns a list of examples (``query``, ``passage`` and optionally ``label``, ``qid``, ``pid``) into a batch."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int = 512,
                 group_size: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.group_size = group_size  # batches hold whole query groups of this size (ranking losses)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = {
            "encoding": encode_pairs(self.tokenizer, [e["query"] for e in examples],
                                     [e["passage"] for e in examples], self.max_length)
        }
        batch["tokens"] = int(batch["encoding"]["attention_mask"].sum())  # counted here, on the host: no GPU sync
        if "label" in examples[0]:
            batch["labels"] = torch.tensor([float(e["label"]) for e in examples], dtype=torch.float32)
        if "teacher" in examples[0]:
            batch["teacher"] = torch.tensor([float(e["teacher"]) for e in examples], dtype=torch.float32)
        if self.group_size and "label" in examples[0]:
            batch["group_size"] = self.group_size
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
    """Real (unpadded) tokens in a collated batch (for throughput logging; counted by the collator, on the host)."""
    if "tokens" in batch:
        return int(batch["tokens"])
    return int(batch["encoding"]["attention_mask"].sum())
