"""Group batches for ranking losses: whole query groups, positive first, fresh negatives each epoch, resumable."""

from __future__ import annotations

import torch

from crossrank.data.sampling import GroupBatchSampler


def groups() -> list[tuple[int, list[int]]]:
    # 5 queries: positive row 10*q, negatives 10*q+1 .. 10*q+6 (query 4 has only two: drawn with replacement)
    return [(10 * q, [10 * q + j for j in range(1, 7 if q < 4 else 3)]) for q in range(5)]


def test_group_batches_hold_whole_groups() -> None:
    sampler = GroupBatchSampler(groups(), group_size=4, batch_size=8, generator=torch.Generator().manual_seed(0))
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 3  # 5 groups, 2 a batch
    for epoch in (first, second):
        rows = [r for b in epoch for r in b]
        assert len(rows) == 5 * 4
        for b in epoch:
            for g in range(0, len(b), 4):
                group = b[g: g + 4]
                q = group[0] // 10
                assert group[0] == 10 * q  # the positive first
                assert all(r // 10 == q and r % 10 != 0 for r in group[1:])  # negatives of the same query
            assert len(b) % 4 == 0
        assert sorted(b[g] for b in epoch for g in range(0, len(b), 4)) == [0, 10, 20, 30, 40]
    assert first != second  # new order and new negatives every epoch


def test_group_batches_resume_and_shard() -> None:
    whole = list(GroupBatchSampler(groups(), 4, 8, generator=torch.Generator().manual_seed(1)))
    sampler = GroupBatchSampler(groups(), 4, 8, generator=torch.Generator().manual_seed(1))
    it = iter(sampler)
    next(it)
    state = sampler.state_dict()
    resumed = GroupBatchSampler(groups(), 4, 8, generator=torch.Generator().manual_seed(99))
    resumed.load_state_dict(state)
    assert list(resumed) == whole[1:]
    ranks = [list(GroupBatchSampler(groups(), 4, 4, generator=torch.Generator().manual_seed(1), rank=r,
                                    world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])
    positives = sorted(b[0] for part in ranks for b in part)
    assert set(positives) == {0, 10, 20, 30, 40} and len(positives) == 6  # every group; one repeated to even out


def test_a_last_batch_smaller_than_the_ranks_leaves_no_rank_empty() -> None:
    """33 pairs in batches of 16 on 2 ranks: the last batch holds one pair; before, one rank got an empty batch
    (which the collator cannot take). The shared re-cut now fills it from the epoch's first pairs."""
    from crossrank.data.sampling import PairBatchSampler

    ranks = [list(PairBatchSampler(33, 16, generator=torch.Generator().manual_seed(0), rank=r, world_size=2))
             for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 2
    assert all(len(b) > 0 for part in ranks for b in part)
    assert sorted({i for part in ranks for b in part for i in b}) == list(range(33))  # every pair still seen
