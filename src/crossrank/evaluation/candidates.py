"""The candidates an evaluation set reranks: the source's run or its BM25 run (cached), each query's top
``depth``, and with ``rerank_positives`` the judged positives the first stage missed, added after them with a
first-stage score of NaN: reranked too, but never part of the first-stage or the reranked run; they make a run of
their own (``reranked_with_positives``), the figure sentence-transformers' NanoBEIR evaluator reports by
default."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from crossrank.data.candidates import RunRows, first_stage, name_of
from crossrank.data.sources import Source
from crossrank.data.trec import Qrels, RunRow
from crossrank.evaluation.spec import EvalSet


class CandidateRows:
    """The rows to rerank, grouped by query: the first stage cut at ``spec.depth``, then (``rerank_positives``) the
    missing positives; only ``spec.queries`` when it is set. ``first_stage_name`` says what the first stage is (known
    once the first row is read)."""

    def __init__(self, source: Source, spec: EvalSet, qrels: Qrels, level: int) -> None:
        self.source, self.spec, self.qrels, self.level = source, spec, qrels, level
        how = spec.first_stage_settings()
        self._run = RunRows(source, spec.depth, how, spec.queries) if source.has_run() and how.mode != "bm25" \
            else None
        self._name = name_of(source, how, spec.depth, reordered=False)

    @property
    def first_stage_name(self) -> str:
        return self._run.name if self._run is not None else self._name

    def __iter__(self) -> Iterator[RunRow]:
        if self._run is not None:
            rows: Iterator[RunRow] = iter(self._run)
        else:
            spec = self.spec
            candidates = first_stage(self.source, spec.queries, spec.depth, spec.first_stage_settings())
            rows = ((q, p, s) for q, items in candidates.items() for p, s in items)
        if self.spec.queries is not None:
            keep = set(self.spec.queries)
            rows = (r for r in rows if r[0] in keep)
        if self.spec.rerank_positives:
            rows = with_missing_positives(rows, self.source, self.qrels, self.level)
        yield from rows


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
