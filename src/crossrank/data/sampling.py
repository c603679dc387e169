"""Training batches: random, or of similar length in a random order; sharded across DDP ranks; resumable. An epoch's
order is kept in numpy arrays (a batch is a slice of one permutation), so tens of millions of pairs cost a few bytes
each, not a Python list each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler

#: ``data.epoch`` for query groups: ``positives``: each positive once an epoch, with negatives of its query drawn
#: afresh; ``negatives``: each negative once an epoch, grouped with a positive of its query (with groups of two, one
#: pass over every (positive, negative) triple, as the distillation recipe's original trained).
EPOCHS = ("positives", "negatives")


def check_epoch(epoch: str, group_size: int | None) -> str:
    """``data.epoch`` names an epoch of query groups (and is left at its default without them)."""
    from crossrank.errors import ConfigError

    if epoch not in EPOCHS:
        raise ConfigError(f"data.epoch: {epoch!r} (expected {' or '.join(EPOCHS)})")
    if epoch != EPOCHS[0] and not group_size:
        raise ConfigError(f"data.epoch: {epoch} applies to query groups; set data.group_size (e.g. 2)")
    return epoch


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

    def epoch_batches(self) -> tuple[np.ndarray, np.ndarray]:
        """Every batch of the epoch, in order (all ranks), drawn from the generator: ``(items, starts)``, batch
        ``i`` being ``items[starts[i]:starts[i + 1]]``."""
        order = torch.randperm(self.n, generator=self.generator).numpy()
        lengths = self.lengths
        if lengths is None:
            return order, np.r_[np.arange(0, self.n, self.batch_size), self.n]
        batches: list[list[int]] = []
        items = order.tolist()
        for start in range(0, self.n, self.mega):
            chunk = sorted(items[start: start + self.mega], key=lambda i: lengths[i])
            batches += [chunk[i: i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        batches = [batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist()]
        return (np.array([i for b in batches for i in b], dtype=np.int64),
                np.r_[0, np.cumsum([len(b) for b in batches])])

    def shard(self, items: np.ndarray, starts: np.ndarray) -> list[tuple[int, int]]:
        """This rank's batches, as (start, end) in the returned ``items``: as many on every rank, each pair on
        exactly one."""
        w, count = self.world_size, len(starts) - 1
        extra = count % w if w > 1 else 0
        if extra:  # re-cut the last `extra` batches into `w` smaller ones, as even as can be
            head = int(starts[count - extra])
            tail = items[head:]
            # fewer items than ranks: the epoch's first items are repeated, so that no rank gets an empty batch
            tail = np.concatenate([tail, items[: max(0, w - len(tail))]])
            items = np.concatenate([items[:head], tail])
            starts = np.r_[starts[: count - extra + 1], head + np.array([len(tail) * k // w for k in range(1, w + 1)])]
        bounds = list(zip(starts[:-1].tolist(), starts[1:].tolist()))
        self._items = items
        return bounds[self.rank::w]

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self._resume is not None:
            self.generator.set_state(self._resume[0])
            skip = self._resume[1]
        self._resume = None
        self._epoch_state = self.generator.get_state()
        self._yielded = skip
        items, starts = self.epoch_batches()
        for start, end in self.shard(items, starts)[skip:]:
            self._yielded += 1
            yield self.expand(self._items[start:end])

    def expand(self, batch: np.ndarray) -> list[int]:
        """The dataset rows of a batch (the batch itself here: its items are rows)."""
        return batch.tolist()


@dataclass
class Groups:
    """Query groups of a training set, in arrays: each group's positive row and query, and each query's negative
    rows (``negatives[offsets[q]:offsets[q + 1]]``)."""

    positives: np.ndarray
    query: np.ndarray
    offsets: np.ndarray
    negatives: np.ndarray

    @classmethod
    def from_lists(cls, groups: Sequence[tuple[int, Sequence[int]]]) -> Groups:
        """One query per group (small sets, tests)."""
        sizes = [len(negs) for _, negs in groups]
        return cls(np.array([p for p, _ in groups], dtype=np.int64), np.arange(len(groups)),
                   np.r_[0, np.cumsum(sizes)].astype(np.int64),
                   np.array([n for _, negs in groups for n in negs], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.positives)


class GroupBatchSampler(PairBatchSampler):
    """Batches of whole query groups for ranking losses: each group is one positive row followed by ``group_size - 1``
    negative rows of the same query. ``epoch="positives"``: one group per positive, its negatives drawn afresh every
    epoch from its query's (with replacement only when it has too few); ``"negatives"``: each negative once an
    epoch, a query's negatives shuffled and cut into groups with its positives in turn (a last group short of
    negatives filled with others of the query). Groups are shuffled, batched ``batch_size // group_size`` at a time,
    and sharded across DDP ranks as whole groups; resuming mid-epoch redraws the same groups."""

    def __init__(self, groups: Groups | Sequence[tuple[int, Sequence[int]]], group_size: int, batch_size: int,
                 generator: torch.Generator | None = None, rank: int = 0, world_size: int = 1,
                 epoch: str = "positives") -> None:
        self.groups = groups if isinstance(groups, Groups) else Groups.from_lists(groups)
        self.epoch, self.group_size = check_epoch(epoch, group_size), group_size
        self._sizes = np.diff(self.groups.offsets)
        count = len(self.groups) if epoch == "positives" else int(self._chunks().sum())
        super().__init__(count, max(1, batch_size // group_size), generator=generator, rank=rank,
                         world_size=world_size)
        self._members = np.zeros((0, group_size), dtype=np.int64)

    def _chunks(self) -> np.ndarray:
        """Groups per query in a ``negatives`` epoch (queries without a positive or a negative have none)."""
        has_positive = np.bincount(self.groups.query, minlength=len(self._sizes)) > 0
        return np.where(has_positive, -(-self._sizes // (self.group_size - 1)), 0)

    def epoch_batches(self) -> tuple[np.ndarray, np.ndarray]:
        if self.epoch == "negatives":
            self._members = self._every_negative()
            return super().epoch_batches()
        batches = super().epoch_batches()
        k, g = self.group_size - 1, self.groups
        members = np.empty((len(g), self.group_size), dtype=np.int64)
        members[:, 0] = g.positives
        for i, q in enumerate(g.query.tolist()):  # one draw per group, in group order (reproducible runs)
            size, base = int(self._sizes[q]), int(g.offsets[q])
            if size >= k:
                picked = torch.randperm(size, generator=self.generator)[:k].numpy()
            else:
                picked = torch.randint(size, (k,), generator=self.generator).numpy()
            members[i, 1:] = g.negatives[base + picked]
        self._members = members
        return batches

    def _every_negative(self, block: int = 1 << 22) -> np.ndarray:
        """This epoch's groups when every negative is used once: rows ``(positive, negatives...)`` (int32: MS MARCO's
        teacher file gives 40M negatives), built a few million negatives at a time."""
        g, k = self.groups, self.group_size - 1
        chunks = self._chunks()
        first_group = np.r_[0, np.cumsum(chunks)[:-1]].astype(np.int64)
        members = np.full((int(chunks.sum()), self.group_size), -1, dtype=np.int32)
        by_query = np.argsort(g.query, kind="stable")  # positives of each query, in row order
        pos_start = np.r_[0, np.cumsum(np.bincount(g.query, minlength=len(self._sizes)))]
        q = 0
        while q < len(self._sizes):  # whole queries, about `block` negatives at a time
            end = max(q + 1, int(np.searchsorted(g.offsets, g.offsets[q] + block, side="right")) - 1)
            end = min(end, len(self._sizes))
            lo, hi = int(g.offsets[q]), int(g.offsets[end])
            query_of = np.repeat(np.arange(q, end, dtype=np.int64), self._sizes[q:end])
            keys = torch.rand(hi - lo, generator=self.generator, dtype=torch.float64).numpy() + (query_of - q)
            order = lo + np.argsort(keys, kind="stable")  # each query's negatives, shuffled (still grouped by query)
            rank = np.arange(lo, hi) - g.offsets[query_of]  # place within its query
            keep = chunks[query_of] > 0
            members[(first_group[query_of] + rank // k)[keep], 1 + (rank % k)[keep]] = g.negatives[order[keep]]
            queries = np.repeat(np.arange(q, end), chunks[q:end])  # this block's groups: positives in turn
            groups = first_group[q] + np.arange(len(queries))
            count = np.maximum(pos_start[queries + 1] - pos_start[queries], 1)
            members[groups, 0] = g.positives[by_query[pos_start[queries] + (groups - first_group[queries]) % count]]
            q = end
        short = np.argwhere(members < 0)
        if len(short):  # a query's last group: filled with others of its negatives
            qs = np.searchsorted(np.cumsum(chunks), short[:, 0], side="right")  # each short group's query
            draw = torch.randint(1 << 62, (len(short),), generator=self.generator).numpy() % self._sizes[qs]
            members[short[:, 0], short[:, 1]] = g.negatives[g.offsets[qs] + draw]
        return members

    def expand(self, batch: np.ndarray) -> list[int]:
        return self._members[batch].reshape(-1).tolist()
