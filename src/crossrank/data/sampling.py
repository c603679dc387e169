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
    batch to its shortest). ``generator`` makes the order reproducible for a seed; ``state_dict`` lets a run
    resumed mid-epoch continue the same order (torchdata's ``StatefulDataLoader`` saves it in checkpoints).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: torch.Generator | None = None,
                 mega_batches: int = 50, drop_last: bool = False) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.generator = generator
        self.mega = max(1, mega_batches) * batch_size
        self.drop_last = drop_last
        self._epoch_state: torch.Tensor | None = None  # the generator's state when this epoch's order was drawn
        self._yielded = 0
        self._resume: tuple[torch.Tensor, int] | None = None

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def state_dict(self) -> dict[str, object]:
        """Where the epoch is: a resumed run draws the same order and continues after the batches done."""
        return {"epoch_state": self._epoch_state, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, object]) -> None:
        if state.get("epoch_state") is not None:
            self._resume = (state["epoch_state"], int(state["yielded"]))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self._resume is not None and self.generator is not None:
            self.generator.set_state(self._resume[0])
            skip = self._resume[1]
        self._resume = None
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        self._epoch_state = self.generator.get_state()
        self._yielded = skip
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches: list[list[int]] = []
        for start in range(0, len(order), self.mega):
            chunk = sorted(order[start: start + self.mega], key=lambda i: self.lengths[i])
            batches += [chunk[i: i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        for i in torch.randperm(len(batches), generator=self.generator).tolist()[skip:]:
            self._yielded += 1
            yield batches[i]
