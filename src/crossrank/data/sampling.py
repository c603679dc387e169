"""Training batches of similar length in a random order: less padding, and no curriculum by length."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Each epoch: a random permutation, cut into mega-batches of ``mega_batches`` batches; each mega-batch
    sorted by length and cut into batches; then every batch of the epoch in a random order.

    A batch holds pairs of similar length (little padding), every epoch is a new random order, and long and
    short batches are interleaved (transformers' ``LengthGroupedSampler`` runs each mega-batch from its longest
    batch to its shortest). ``generator`` makes the order reproducible for a seed.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: torch.Generator | None = None,
                 mega_batches: int = 50, drop_last: bool = False) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.generator = generator
        self.mega = max(1, mega_batches) * batch_size
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches: list[list[int]] = []
        for start in range(0, len(order), self.mega):
            chunk = sorted(order[start: start + self.mega], key=lambda i: self.lengths[i])
            batches += [chunk[i: i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]
