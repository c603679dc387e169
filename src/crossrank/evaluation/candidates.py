"""The candidates an evaluation set reranks: the source's run or its BM25 run (cached), each query's top
``depth``, and with ``rerank_positives`` the judged positives the first stage missed, added after them with a
first-stage score of NaN: reranked too, but never part of the first-stage or the reranked run; they make a run of
their own (``reranked_with_positives``), the figure sentence-transformers' NanoBEIR evaluator reports by
default."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from crossrank.data.candidates import first_stage
from crossrank.data.sources import Source
from crossrank.data.trec import Qrels, RunRow, order_key
from crossrank.errors import DataError
from crossrank.evaluation.spec import EvalSet


def candidate_rows(source: Source, spec: EvalSet, qrels: Qrels, level: int) -> Iterator[RunRow]:
    """The rows to rerank, grouped by query: the first stage cut at ``spec.depth``, then (``rerank_positives``)
    the missing positives; only ``spec.queries`` when it is set."""
    if source.has_run():
        rows: Iterator[RunRow] = cut_per_query(source.iter_run(), spec.depth, source.name)
    else:
        candidates = first_stage(source, None, spec.depth or 1000, spec.bm25_k1, spec.bm25_b, spec.bm25_cache)
        rows = ((q, p, s) for q, items in candidates.items() for p, s in items)
    if spec.queries is not None:
        keep = set(spec.queries)
        rows = (r for r in rows if r[0] in keep)
    return with_missing_positives(rows, source, qrels, level) if spec.rerank_positives else rows


def is_injected(first_stage_score: float) -> bool:
    """Whether a scored candidate is a positive added for ``reranked_with_positives`` (not a first-stage one)."""
    return math.isnan(first_stage_score)


def with_missing_positives(rows: Iterator[RunRow], source: Source, qrels: Qrels, level: int) -> Iterator[RunRow]:
    """``rows``, each query's followed by its judged positives (relevance >= ``level``, with a text) that the
    first stage left out; judged queries the first stage has no candidate for get theirs at the end."""
    positives = {q: sorted(p for p, r in judged.items() if r >= level) for q, judged in qrels.items()}
    texts = source.passages({p for pids in positives.values() for p in pids})
    seen: set[str] = set()
    for qid, group in itertools.groupby(rows, key=lambda r: r[0]):
        listed = list(group)
        yield from listed
        seen.add(qid)
        present = {p for _, p, _ in listed}
        yield from ((qid, p, math.nan) for p in positives.get(qid, []) if p not in present and p in texts)
    for qid in sorted(set(positives) - seen):
        yield from ((qid, p, math.nan) for p in positives[qid] if p in texts)


def cut_per_query(rows: Iterator[RunRow], depth: int | None, name: str = "run") -> Iterator[RunRow]:
    """Stream the top-``depth`` rows of each query (trec_eval order). Needs rows grouped by query, as TREC run
    files are; a query that shows up again after another is an error."""
    if depth is None:
        yield from rows
        return
    done: set[str] = set()
    for qid, group in itertools.groupby(rows, key=lambda r: r[0]):
        if qid in done:
            raise DataError(f"{name}: the run is not grouped by query (qid {qid!r} appears twice); sort it by qid to "
                            "use a depth cut")
        done.add(qid)
        items = sorted(((pid, score) for _, pid, score in group), key=order_key, reverse=True)[:depth]
        for pid, score in items:
            yield qid, pid, score
