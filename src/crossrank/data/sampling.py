"""Training batches: random, or of similar length in a random order; sharded across DDP ranks; resumable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class PairBatchSampler(Sampler[list[int]]):
    """The batches of one epoch, and this rank's share of them.

    Every epoch draws a new order from ``generator`` (the same on every rank: same seed). Random batches cut a
    permutation; with ``lengths``, batches hold pairs of similar length: the permutation is cut into mega-batches
    of ``mega_batches`` batches, each sorted by length and cut into batches, and all batches of the epoch are then
    shuffled (long and short interleaved; transformers' ``LengthGroupedSampler`` runs each mega-batch from its
    longest batch to its shortest).

    With ``world_size`` ranks, rank ``r`` takes batches ``r, r + world_size, ...``; when the count does not divide,
    the last batches are re-cut so every rank gets as many, and every pair is seen exactly once per epoch (when
    those last batches hold fewer pairs than there are ranks, the epoch's first pairs fill them up).
    ``state_dict`` lets a run resumed mid-epoch continue the same order (torchdata's ``StatefulDataLoader``
    keeps it in checkpoints).
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator | None = None,
                 lengths: Sequence[int] | None = None, mega_batches: int = 50, rank: int = 0,
                 world_size: int = 1) -> None:
        if n < max(1, world_size):
            from crossrank.errors import ConfigError

            raise ConfigError(f"{n} training pairs cannot be shared by {world_size} DDP ranks (each needs one)")
        self.n = n
        self.lengths = list(lengths) if lengths is not None else None
        self.batch_size = batch_size
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.mega = max(1, mega_batches) * batch_size
        self.rank, self.world_size = rank, max(1, world_size)
        self._epoch_state: torch.Tensor | None = None  # the generator's state when this epoch's order was drawn
        self._yielded = 0
        self._resume: tuple[torch.Tensor, int] | None = None

    def __len__(self) -> int:
        batches = -(-self.n // self.batch_size)
        return -(-batches // self.world_size) if batches >= self.world_size else 1

    def state_dict(self) -> dict[str, object]:
        """Where the epoch is: a resumed run draws the same order and continues after the batches done."""
        return {"epoch_state": self._epoch_state, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, object]) -> None:
        epoch_state, yielded = state.get("epoch_state"), state.get("yielded")
        if isinstance(epoch_state, torch.Tensor) and isinstance(yielded, int):
            self._resume = (epoch_state, yielded)

    def epoch_batches(self) -> list[list[int]]:
        """Every batch of the epoch, in order (all ranks), drawn from the generator."""
        order = torch.randperm(self.n, generator=self.generator).tolist()
        lengths = self.lengths
        if lengths is None:
            batches = [order[i: i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        else:
            batches = []
            for start in range(0, self.n, self.mega):
                chunk = sorted(order[start: start + self.mega], key=lambda i: lengths[i])
                batches += [chunk[i: i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
            batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist()]
        return batches

    def shard(self, batches: list[list[int]]) -> list[list[int]]:
        """This rank's batches: as many on every rank, each pair on exactly one."""
        w = self.world_size
        if w == 1:
            return batches
        extra = len(batches) % w
        if extra:  # re-cut the last `extra` batches into `w` smaller ones, as even as can be
            tail = [i for b in batches[len(batches) - extra:] for i in b]
            # fewer items than ranks: the epoch's first items are repeated, so that no rank gets an empty batch
            tail += [i for b in batches for i in b][: max(0, w - len(tail))]
            batches = batches[: len(batches) - extra]
            cuts = [len(tail) * k // w for k in range(w + 1)]
            batches += [tail[cuts[k]: cuts[k + 1]] for k in range(w)]
        return batches[self.rank::w]

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self._resume is not None:
            self.generator.set_state(self._resume[0])
            skip = self._resume[1]
        self._resume = None
        self._epoch_state = self.generator.get_state()
        self._yielded = skip
        for batch in self.shard(self.epoch_batches())[skip:]:
            self._yielded += 1
            yield self.expand(batch)

    def expand(self, batch: list[int]) -> list[int]:
        """The dataset rows of a batch (the batch itself here: its items are rows)."""
        return batch


class GroupBatchSampler(PairBatchSampler):
    """Batches of whole query groups for ranking losses: each group is one positive row followed by
    ``group_size - 1`` negative rows of the same query, drawn afresh every epoch from that query's negatives
    (with replacement only when it has too few). Groups are shuffled, batched ``batch_size // group_size`` at a
    time, and sharded across DDP ranks as whole groups; resuming mid-epoch redraws the same groups.

    Args:
        groups: per group, its positive row and the rows of its query's negatives.
    """

    def __init__(self, groups: Sequence[tuple[int, Sequence[int]]], group_size: int, batch_size: int,
                 generator: torch.Generator | None = None, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(len(groups), max(1, batch_size // group_size), generator=generator, rank=rank,
                         world_size=world_size)
        self.groups = [(pos, list(negs)) for pos, negs in groups]
        self.group_size = group_size
        self._members: list[list[int]] = []

    def epoch_batches(self) -> list[list[int]]:
        batches = super().epoch_batches()
        k = self.group_size - 1
        self._members = []
        for pos, negs in self.groups:
            if len(negs) >= k:
                picked = torch.randperm(len(negs), generator=self.generator)[:k].tolist()
            else:
                picked = torch.randint(len(negs), (k,), generator=self.generator).tolist()
            self._members.append([pos] + [negs[i] for i in picked])
        return batches

    def expand(self, batch: list[int]) -> list[int]:
        return [row for g in batch for row in self._members[g]]
