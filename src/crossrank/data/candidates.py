"""First-stage candidates per query: the source's run, or BM25 when it has none (cached when asked)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Mapping
from pathlib import Path

from crossrank.data.bm25 import BM25Index
from crossrank.data.sources import Source
from crossrank.data.trec import group_run, read_run, trec_lines
from crossrank.files import write_text

log = logging.getLogger(__name__)

#: Part of every BM25 cache key: raised when what a cached file holds changes.
BM25_CACHE_FORMAT = 1


def first_stage(source: Source, qids: Collection[str] | None = None, depth: int | None = 100,
                bm25_k1: float = 0.9, bm25_b: float = 0.4,
                cache_dir: str | Path | None = None) -> Mapping[str, list[tuple[str, float]]]:
    """Candidates for ``qids`` (all queries when None): the source's run, else BM25 top-``depth``. A few
    queries out of a large run file are picked in Arrow (:mod:`crossrank.data.runfile`); the ids kept are then
    checked against the queries and passages, and any doubt goes back to the line-by-line reader, which names
    the bad line. ``cache_dir``: BM25 runs are kept there as TREC files, keyed by the source's contents, the
    queries, the settings and bm25s' version (files of other keys are left there: delete the folder to free it)."""
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
    cached = None
    if cache_dir is not None:
        key = json.dumps([BM25_CACHE_FORMAT, source.cache_key(), bm25_k1, bm25_b, depth, BM25Index.settings(),
                          sorted(wanted.items())])
        cached = Path(cache_dir) / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.trec"
        if cached.is_file():
            log.info("%s: BM25 run from %s", source.name, cached)
            return group_run(read_run(cached), None, depth)
    index = BM25Index(source.iter_passages(), k1=bm25_k1, b=bm25_b)
    candidates = group_run(index.search(wanted, depth or 1000), None, depth)
    if cached is not None and candidates:
        write_text(cached, "".join(trec_lines(candidates_run(candidates), "bm25", exact=True)))
    return candidates


def candidates_run(candidates: Mapping[str, list[tuple[str, float]]]) -> dict[str, dict[str, float]]:
    """Candidates as a run ``{qid: {pid: score}}``."""
    return {q: dict(items) for q, items in candidates.items()}
