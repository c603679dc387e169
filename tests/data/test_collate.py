from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from crossrank.data.collate import PairCollator, encode_pairs, length_sorted


def test_passage_is_truncated_first(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    enc = encode_pairs(tok, ["short query"], ["word " * 100], max_length=16)
    ids = enc["input_ids"][0].tolist()
    assert len(ids) == 16
    assert tok.decode(ids[1:3]) == "short query"


def test_overlong_query_falls_back(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    enc = encode_pairs(tok, ["query " * 50], ["passage"], max_length=16)
    assert enc["input_ids"].shape == (1, 16)


def test_collator_pads_dynamically_and_keeps_ids(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = PairCollator(tok, 64)([
        {"query": "a", "passage": "b", "label": 1.0, "qid": "q1", "pid": "p1"},
        {"query": "a longer query", "passage": "a longer passage here", "label": 0.0, "qid": "q1", "pid": "p2"},
    ])
    assert batch["encoding"]["input_ids"].shape[1] < 64
    assert batch["labels"].tolist() == [1.0, 0.0] and batch["pid"] == ["p1", "p2"]


def test_length_sorted_batches() -> None:
    assert length_sorted([1, 5, 3, 4], 2) == [[1, 3], [2, 0]]


def test_length_grouped_batches_are_random_complete_and_homogeneous() -> None:
    import random

    import torch

    from crossrank.data.sampling import PairBatchSampler

    rng = random.Random(0)
    lengths = [rng.randint(10, 500) for _ in range(1000)]
    sampler = PairBatchSampler(1000, 16, generator=torch.Generator().manual_seed(42), lengths=lengths,
                               mega_batches=10)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert sorted(i for b in epoch for i in b) == list(range(1000)) and len(epoch) == len(sampler) == 63
    assert first != second  # a new order every epoch
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 60  # random batches of 16 spread over about 430 tokens here
    # not a curriculum: long and short batches are interleaved
    widths = [max(lengths[i] for i in b) for b in first]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)
    again = list(PairBatchSampler(1000, 16, generator=torch.Generator().manual_seed(42), lengths=lengths,
                                  mega_batches=10))
    assert again == first


@pytest.mark.parametrize(("n", "world"), [(1000, 2), (1001, 3), (37, 4), (5, 4), (17, 2)])
def test_ddp_shards_are_disjoint_complete_and_even(n: int, world: int) -> None:
    """every rank draws the same epoch and takes its share: each pair once, as many batches per rank."""
    import torch

    from crossrank.data.sampling import PairBatchSampler

    shards = [list(PairBatchSampler(n, 16, generator=torch.Generator().manual_seed(7), rank=r, world_size=world))
              for r in range(world)]
    seen = [i for shard in shards for batch in shard for i in batch]
    assert sorted(seen) == list(range(n)) and all(batch for shard in shards for batch in shard)
    assert len({len(shard) for shard in shards}) == 1 and len(shards[0]) == len(
        PairBatchSampler(n, 16, world_size=world))


def test_packed_pairs_pad_to_what_the_tokenizer_pads(tiny_model_dir: Path) -> None:
    """flat packed tokenization + vectorized padding gives the tokenizer's own padded batch, in any order."""
    import numpy as np

    from crossrank.data.collate import PackedPairs, pad_packed, tokenize_packed

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    queries = ["a", "a longer query", "query " * 50, "q"]
    passages = ["b", "a longer passage here", "p", "word " * 100]
    packed = tokenize_packed(tok, queries, passages, 24)
    assert packed.lengths.tolist() == encode_pairs(tok, queries, passages, 24)["attention_mask"].sum(1).tolist()
    both = PackedPairs.concat([tokenize_packed(tok, queries[:2], passages[:2], 24),
                               tokenize_packed(tok, queries[2:], passages[2:], 24)])
    assert np.array_equal(both.ids, packed.ids) and np.array_equal(both.offsets, packed.offsets)
    for idx in ([0, 1, 2, 3], [3, 0], [1]):
        got = pad_packed(both, idx, tok.pad_token_id)
        want = encode_pairs(tok, [queries[i] for i in idx], [passages[i] for i in idx], 24)
        assert set(got) == set(want)
        for key in want:
            assert got[key].tolist() == want[key].tolist(), key


def test_collator_counts_real_tokens_on_the_host(tiny_model_dir: Path) -> None:
    """the throughput log reads the token count the collator made (no GPU sync each step)."""
    from crossrank.data.collate import batch_tokens

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = PairCollator(tok, 64)([{"query": "a", "passage": "b", "label": 1.0},
                                   {"query": "a longer query", "passage": "a longer passage here", "label": 0.0}])
    assert isinstance(batch["tokens"], int)
    assert batch["tokens"] == int(batch["encoding"]["attention_mask"].sum()) == batch_tokens(batch)
