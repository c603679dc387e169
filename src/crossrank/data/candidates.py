"""First-stage candidates per query: the source's run, or BM25 when it has none."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from crossrank.data.bm25 import BM25Index
from crossrank.data.sources import Source
from crossrank.data.trec import group_run


def first_stage(source: Source, qids: Collection[str] | None = None, depth: int | None = 100,
                bm25_k1: float = 0.9, bm25_b: float = 0.4) -> Mapping[str, list[tuple[str, float]]]:
    """Candidates for ``qids`` (all queries when None): the source's run, else BM25 top-``depth``. A few
    queries out of a large run file are picked in Arrow (:mod:`crossrank.data.runfile`); the ids kept are then
    checked against the queries and passages, and any doubt goes back to the line-by-line reader, which names
    the bad line."""
    if source.has_run():
        path = source.run_file_path()
        if qids is not None and path is not None:
            from crossrank.data.runfile import pick

            picked = pick(Path(path), qids, depth, negate_score=source.negate_score)
            if picked is not None and source.known_ids(picked):
                return picked
        return group_run(source.iter_run(), qids, depth)
    queries = source.queries()
    wanted = {q: queries[q] for q in (qids if qids is not None else queries)}
    index = BM25Index(source.iter_passages(), k1=bm25_k1, b=bm25_b)
    return group_run(index.search(wanted, depth or 1000), None, depth)
