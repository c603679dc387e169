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


def reference_batches(n, batch_size, seed, lengths=None, mega=50, rank=0, world=1, groups=None, group_size=None):
    """The batches as the samplers drew them with Python lists (the reference every recorded run trained on)."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g).tolist()
    if lengths is None:
        batches = [order[i: i + batch_size] for i in range(0, n, batch_size)]
    else:
        batches = []
        for start in range(0, n, mega * batch_size):
            chunk = sorted(order[start: start + mega * batch_size], key=lambda i: lengths[i])
            batches += [chunk[i: i + batch_size] for i in range(0, len(chunk), batch_size)]
        batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
    members = []
    if groups is not None:
        for pos, negs in groups:
            k = group_size - 1
            picked = (torch.randperm(len(negs), generator=g)[:k] if len(negs) >= k
                      else torch.randint(len(negs), (k,), generator=g)).tolist()
            members.append([pos] + [negs[i] for i in picked])
    extra = len(batches) % world if world > 1 else 0
    if extra:
        tail = [i for b in batches[len(batches) - extra:] for i in b]
        tail += [i for b in batches for i in b][: max(0, world - len(tail))]
        batches = batches[: len(batches) - extra]
        cuts = [len(tail) * k // world for k in range(world + 1)]
        batches += [tail[cuts[k]: cuts[k + 1]] for k in range(world)]
    mine = batches[rank::world]
    return [[r for i in b for r in members[i]] for b in mine] if groups is not None else mine


def test_the_samplers_draw_the_batches_python_lists_drew() -> None:
    from crossrank.data.sampling import PairBatchSampler

    lengths = [(i * 37) % 101 for i in range(333)]
    for n, bs, world, lens in ((333, 16, 1, None), (333, 16, 3, None), (333, 7, 2, lengths), (5, 16, 2, None),
                               (333, 16, 1, lengths)):
        for rank in range(world):
            got = list(PairBatchSampler(n, bs, generator=torch.Generator().manual_seed(3), lengths=lens, mega_batches=4,
                                        rank=rank, world_size=world))
            assert got == reference_batches(n, bs, 3, lens, 4, rank, world), (n, bs, world, rank)
    for world in (1, 2):
        for rank in range(world):
            got = list(GroupBatchSampler(groups(), 4, 8, generator=torch.Generator().manual_seed(5), rank=rank,
                                         world_size=world))
            assert got == reference_batches(5, 2, 5, rank=rank, world=world, groups=groups(), group_size=4)


def test_a_negatives_epoch_uses_every_negative_once() -> None:
    """data.epoch=negatives: with groups of two, one pass over every (positive, negative) pair of each query."""
    pairs = [(0, [1, 2, 3]), (10, [11, 12, 13, 14, 15]), (20, [21])]
    sampler = GroupBatchSampler(pairs, group_size=2, batch_size=4, generator=torch.Generator().manual_seed(0),
                                epoch="negatives")
    assert len(sampler) == -(-9 // 2)
    for _ in range(2):
        seen = [tuple(b[i: i + 2]) for b in sampler for i in range(0, len(b), 2)]
        assert sorted(seen) == sorted((pos, n) for pos, negs in pairs for n in negs)
    blocks = sampler._every_negative(block=2)  # a few queries at a time, as at MS MARCO's size
    assert sorted(map(tuple, blocks.tolist())) == sorted((pos, n) for pos, negs in pairs for n in negs)
    triples = [(0, [1, 2, 3, 4, 5])]
    rows = [r for b in GroupBatchSampler(triples, group_size=3, batch_size=3, epoch="negatives") for r in b]
    assert len(rows) == 9 and rows[0::3] == [0, 0, 0] and set(rows) - {0} == {1, 2, 3, 4, 5}  # last group filled
    two = [(0, [1, 2, 3]), (10, [11, 12, 13, 14, 15]), (20, [21])]
    filled = GroupBatchSampler(two, group_size=3, batch_size=3, epoch="negatives")._every_negative(block=2)
    assert all(row[0] // 10 == n // 10 for row in filled.tolist() for n in row[1:])  # fills from the same query
