"""Pair building: positives, negatives, seeding, held-out validation queries, BM25 without a run; the columnar
builder draws exactly the pairs a plain Python one does (the pairs every recorded run trained on)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from crossrank.data.candidates import first_stage
from crossrank.data.local import LocalSource
from crossrank.data.pairs import PairSpec, pair_table, positives, split_queries
from crossrank.data.runfile import as_arrow
from crossrank.data.trec import group_run


def iter_pairs(train_qids, qrels, candidates, spec, has_text=None):
    """The pairs as the builder drew them with Python lists (the reference): per query its positives, then its
    sampled negatives."""
    rng = random.Random(spec.seed)
    for qid in train_qids:
        judged = qrels.get(qid, {})
        pos = [p for p in positives(qrels, qid, spec.level) if has_text is None or p in has_text]
        if not pos:
            continue
        if spec.positives_per_query is not None and len(pos) > spec.positives_per_query:
            pos = sorted(rng.sample(pos, spec.positives_per_query))
        ranked = candidates.get(qid, [])[: spec.candidate_depth]
        pool = [p for p, _ in ranked if judged.get(p, 0) < spec.level and (has_text is None or p in has_text)]
        if spec.negatives_per_query is not None and len(pool) > spec.negatives_per_query:
            pool = rng.sample(pool, spec.negatives_per_query)
        yield from [(qid, p, 1.0) for p in pos] + [(qid, p, 0.0) for p in pool]


def rows_of(table) -> list[tuple[str, str, float]]:
    return list(zip(table.column("qid").to_pylist(), table.column("pid").to_pylist(),
                    table.column("label").to_pylist()))


def build(src: LocalSource, spec: PairSpec) -> list[tuple[str, str, float]]:
    qrels = src.qrels()
    train, _ = split_queries(qrels, spec, set(src.collection()))
    cands = first_stage(src, set(train), spec.candidate_depth)
    return rows_of(pair_table(train, qrels, as_arrow(cands), spec, set(src.collection())))


@pytest.mark.parametrize("seed", range(6))
def test_the_columnar_builder_draws_what_python_lists_draw(seed: int) -> None:
    rng = random.Random(seed)
    qids = [f"q{i}" for i in range(40)]
    candidates = {q: [(f"p{rng.randrange(300)}", float(rng.randrange(5))) for _ in range(rng.randrange(0, 25))]
                  for q in qids if rng.random() < 0.9}
    candidates = {q: list(dict(items).items()) for q, items in candidates.items()}  # a pid once per query
    qrels = {q: {f"p{rng.randrange(300)}": rng.randrange(0, 3) for _ in range(rng.randrange(1, 4))} for q in qids}
    for q in list(candidates)[:10]:  # some judged passages among the candidates too
        if candidates[q]:
            qrels[q][candidates[q][0][0]] = rng.randrange(0, 3)
    has_text = {f"p{i}" for i in range(300) if rng.random() < 0.85} if seed % 2 else None
    spec = PairSpec(positives_per_query=rng.choice([1, 2, None]), negatives_per_query=rng.choice([3, 7, None]),
                    min_relevance=rng.choice([1, 2]), candidate_depth=rng.choice([5, 12, None]), seed=seed)
    train = qids[::-1]
    got = rows_of(pair_table(train, qrels, as_arrow(candidates), spec, has_text))
    assert got == list(iter_pairs(train, qrels, candidates, spec, has_text)) and got


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
    candidates = {"q": [(f"p{i}", 10.0 - i) for i in range(10)]}
    qrels = {"q": {"p0": 1}}
    rows = rows_of(pair_table(["q"], qrels, as_arrow(candidates), PairSpec(negatives_per_query=None,
                                                                            candidate_depth=3)))
    assert [p for _, p, y in rows if y == 0] == ["p1", "p2"]


def test_teacher_scores_from_the_source_refuse_negatives_it_did_not_score() -> None:
    from crossrank.data.pairs import check_teacher
    from crossrank.errors import ConfigError

    check_teacher("source", "first_stage", "auto")
    check_teacher("teacher.run", "mined", "bm25")  # a teacher run of its own: any negatives
    with pytest.raises(ConfigError, match=r"^data.first_stage: bm25 retrieves negatives the source's run"):
        check_teacher("source", "first_stage", "bm25")
    with pytest.raises(ConfigError, match=r"^data.negatives: mined negatives are not in the source's run"):
        check_teacher("source", "mined", "auto")
