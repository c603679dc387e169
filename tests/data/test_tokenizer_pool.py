"""Tokenizing in worker processes gives the same arrays, and the same scores, as one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossrank.data.collate import tokenize_packed
from crossrank.data.tokenizer_pool import TokenizerPool, default_workers
from crossrank.models.scorer import CrossEncoderScorer


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


FALLBACK = """
import logging, sys
import numpy as np
from crossrank.data.collate import tokenize_packed
from crossrank.data.tokenizer_pool import TokenizerPool, _tokenize_in_worker
from crossrank.models.scorer import CrossEncoderScorer

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    scorer = CrossEncoderScorer.from_pretrained(sys.argv[1], num_labels=None)
    queries, passages = [f"q {i}" for i in range(4000)], [f"p {i} " * (50 + i % 90) for i in range(4000)]
    pool = TokenizerPool(scorer.tokenizer, scorer.max_length, 2)
    pool.tokenize(queries[:600], passages[:600])  # the workers started (their launch blocks submit)
    for _ in range(4):  # a backlog of large jobs, queued in the pipe to the workers when they are given up
        pool.executor.submit(_tokenize_in_worker, queries, passages)
    pool.timeout = 0.001  # far less than 2,000 long pairs take
    got = pool.tokenize(queries, passages)
    assert pool.executor is None
    again = pool.tokenize(queries, passages)  # no second wait
    whole = tokenize_packed(scorer.tokenizer, queries, passages, scorer.max_length)
    for packed in (got, again):
        assert np.array_equal(packed.ids, whole.ids) and np.array_equal(packed.lengths, whole.lengths)
    print("ok")
"""


@pytest.mark.slow
def test_pool_that_does_not_answer_falls_back_and_the_process_still_exits(tiny_model_dir: Path,
                                                                           tmp_path: Path) -> None:
    """Workers that cannot answer in time (found as a silent stall on a GPU machine) must not hang scoring; and
    giving up on them must not hang the interpreter's exit (the first version of this fallback did: its killed
    workers' queue thread was joined at exit). Run in a child process, with a time limit, to see it exit."""
    import subprocess
    import sys

    script = tmp_path / "fallback.py"
    script.write_text(FALLBACK)
    proc = subprocess.run([sys.executable, str(script), str(tiny_model_dir)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
    assert "tokenizing in this process" in proc.stderr
