from __future__ import annotations

from pathlib import Path

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
