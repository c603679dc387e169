"""Tokenizing in worker processes gives the same arrays, and the same scores, as one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossrank.data.collate import tokenize_packed
from crossrank.data.tokenizer_pool import TokenizerPool, default_workers
from crossrank.scorer import CrossEncoderScorer


def test_pool_matches_one_process_and_scores_match(tiny_model_dir: Path) -> None:
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    queries = [f"query {i} " * (1 + i % 5) for i in range(700)]
    passages = [f"passage words {i} " * (1 + i % 37) for i in range(700)]
    pool = TokenizerPool(scorer.tokenizer, scorer.max_length, 2)
    try:
        split = pool.tokenize(queries, passages)
    finally:
        pool.close()
    whole = tokenize_packed(scorer.tokenizer, queries, passages, scorer.max_length)
    for name in ("ids", "type_ids", "offsets", "lengths"):
        assert np.array_equal(getattr(split, name), getattr(whole, name)), name
    one = scorer.score(queries, passages, batch_size=32, tokenize_workers=0)
    two = scorer.score(queries, passages, batch_size=32, tokenize_workers=2)
    assert np.array_equal(one, two)
    assert default_workers("cpu", 10**6) == 0 and default_workers("cuda", 100) == 0


def test_pool_that_does_not_answer_falls_back_to_this_process(tiny_model_dir: Path, caplog) -> None:
    """Workers that cannot start in time (found as a silent hang on a GPU machine) must not hang scoring."""
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    queries, passages = [f"q {i}" for i in range(4000)], [f"p {i} " * (50 + i % 90) for i in range(4000)]
    pool = TokenizerPool(scorer.tokenizer, scorer.max_length, 2)
    try:
        pool.tokenize(queries[:600], passages[:600])  # the workers started (their launch blocks submit)
        pool.timeout = 0.001  # far less than 2,000 long pairs take
        with caplog.at_level("WARNING"):
            got = pool.tokenize(queries, passages)
        assert pool.executor is None and "tokenizing in this process" in caplog.text
        again = pool.tokenize(queries, passages)  # no second wait
    finally:
        pool.close()
    whole = tokenize_packed(scorer.tokenizer, queries, passages, scorer.max_length)
    for packed in (got, again):
        assert np.array_equal(packed.ids, whole.ids) and np.array_equal(packed.lengths, whole.lengths)
