"""Training pairs with their texts fetched a batch at a time: the cached pair set holds ids, labels and teacher
scores (columns, memory-mapped), and the query and passage texts of a batch come from the source when the batch is
drawn (the docs store of an ir_datasets dataset answers a few dozen ids at a time), so no text of the whole set is
ever held. In DataLoader workers (spawned) the source is opened again in each worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from crossrank.data.sources import Source, load_source
from crossrank.errors import DataError


class PairTexts(Dataset):
    """The rows of ``pairs`` (``qid, pid, label[, teacher]``) as examples with ``query`` and ``passage`` texts.

    Args:
        pairs: the cached pair set (a ``datasets.Dataset``).
        source: what :func:`crossrank.data.sources.load_source` takes to open the source.
    """

    def __init__(self, pairs: Any, source: dict[str, Any]) -> None:
        self.pairs, self.source_cfg = pairs, dict(source)
        self._source: Source | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_source": None}  # a worker opens its own

    @property
    def source(self) -> Source:
        if self._source is None:
            self._source = load_source(**self.source_cfg)
        return self._source

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        rows = self.pairs[np.asarray(indices, dtype=np.int64)]
        return with_texts(rows, self.source)

    def texts(self, start: int, end: int) -> list[dict[str, Any]]:
        """Rows ``start`` to ``end`` with their texts (model cards, length grouping)."""
        return with_texts(self.pairs[start:end], self.source)


def with_texts(rows: dict[str, list[Any]], source: Source) -> list[dict[str, Any]]:
    """Columns of some pairs as examples, each with its query's and its passage's text."""
    queries = source.queries()
    texts = source.passages(set(rows["pid"]))
    names = list(rows)
    out = []
    for values in zip(*(rows[n] for n in names)):
        example = dict(zip(names, values))
        qid, pid = example["qid"], example["pid"]
        if qid not in queries or pid not in texts:
            what = f"query {qid!r}" if qid not in queries else f"passage {pid!r} (query {qid!r})"
            raise DataError(f"{source.name}: no text for {what}, a training pair of the cached pair set (the source "
                            "changed since it was built? delete paths.cache_dir/pairs to build it again)")
        example["query"], example["passage"] = queries[qid], texts[pid]
        out.append(example)
    return out
