"""Pair building: positives, negatives, seeding, held-out validation queries, BM25 without a run."""

from __future__ import annotations

from pathlib import Path

from crossrank.data.candidates import first_stage
from crossrank.data.local import LocalSource
from crossrank.data.pairs import PairSpec, iter_pairs, split_queries
from crossrank.data.trec import group_run


def build(src: LocalSource, spec: PairSpec) -> list[tuple[str, str, float]]:
    qrels = src.qrels()
    train, _ = split_queries(qrels, spec, set(src.collection()))
    cands = first_stage(src, set(train), spec.candidate_depth)
    return list(iter_pairs(train, qrels, cands, spec, set(src.collection())))


def test_pairs_from_run(irdata_dir: Path) -> None:
    src = LocalSource(str(irdata_dir))
    spec = PairSpec(negatives_per_query=3, min_relevance=2)
    rows = build(src, spec)
    by_q: dict[str, list] = {}
    for q, p, y in rows:
        by_q.setdefault(q, []).append((p, y))
    assert len(by_q) == 6
    for q, items in by_q.items():
        labels = [y for _, y in items]
        assert labels == [1.0, 0.0, 0.0, 0.0]
        assert items[0][0] == f"p{q[1:]}_0"  # the relevance-2 passage
        assert f"p{q[1:]}_0" not in [p for p, y in items if y == 0.0]  # a positive is never a negative
    assert rows == build(src, spec)  # deterministic
    assert rows != build(src, PairSpec(negatives_per_query=3, min_relevance=2, seed=7))


def test_bm25_negatives_without_run(irdata_norun: Path) -> None:
    src = LocalSource(str(irdata_norun))
    cands = first_stage(src, None, depth=5)
    assert set(cands) == set(src.queries())
    assert all(len(v) <= 5 for v in cands.values())
    # the passage that repeats the query's topic is BM25's first hit
    assert cands["q3"][0][0] == "p3_0"
    rows = build(src, PairSpec(negatives_per_query=2, min_relevance=2, candidate_depth=5))
    assert sum(y for _, _, y in rows) == 6 and len(rows) == 18


def test_validation_split_is_disjoint(irdata_dir: Path) -> None:
    src = LocalSource(str(irdata_dir))
    train, val = split_queries(src.qrels(), PairSpec(val_queries=2, min_relevance=2))
    assert len(val) == 2 and len(train) == 4 and not set(train) & set(val)


def test_group_run_breaks_ties_like_trec_eval() -> None:
    grouped = group_run([("q", "a", 1.0), ("q", "b", 1.0), ("q", "c", 2.0)], depth=2)
    assert grouped == {"q": [("c", 2.0), ("b", 1.0)]}


def test_negatives_come_from_the_candidate_depth_only() -> None:
    """Candidate lists may be deeper than ``candidate_depth`` (validation needs ``val_depth``): negatives
    are still drawn from the first ``candidate_depth`` only (a bug: they came from the whole list)."""
    from crossrank.data.pairs import iter_pairs

    candidates = {"q": [(f"p{i}", 10.0 - i) for i in range(10)]}
    qrels = {"q": {"p0": 1}}
    rows = list(iter_pairs(["q"], qrels, candidates, PairSpec(negatives_per_query=None, candidate_depth=3)))
    assert [p for _, p, y in rows if y == 0] == ["p1", "p2"]
