"""Score interpolation: the final ranking as a weighted sum of the reranker's and the first stage's scores (and a
teacher's), each min-max normalised per query; the weights are chosen on validation queries only (never on the
reported ones)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from crossrank.evaluation.metrics import RunDict, evaluate_run
from crossrank.evaluation.spec import metric_names

#: weights of the reranker tried when tuning: 0 (first stage only) to 1 (reranker only) in steps of 0.05
GRID = tuple(round(i * 0.05, 2) for i in range(21))


def minmax(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores of one query mapped to [0, 1] (all equal: all 0)."""
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 0 else 0.0 for k, v in scores.items()}


#: (reranker, teacher) weights tried when a teacher is fused too: steps of 0.1 with a sum of at most 1
GRID_2D = tuple((round(a * 0.1, 1), round(b * 0.1, 1)) for a in range(11) for b in range(11 - a))


def interpolate(reranked: Mapping[str, Mapping[str, float]], first: Mapping[str, Mapping[str, float]],
                alpha: float, teacher: Mapping[str, Mapping[str, float]] | None = None, beta: float = 0.0) -> RunDict:
    """``alpha * reranker + beta * teacher + (1 - alpha - beta) * first stage`` per query, each min-max
    normalised; a passage one run lacks counts 0 there."""
    out: RunDict = {}
    teacher = teacher or {}
    for qid in reranked.keys() | first.keys():
        r, f = minmax(reranked.get(qid) or {"": 0.0}), minmax(first.get(qid) or {"": 0.0})
        t = minmax(teacher.get(qid) or {"": 0.0})
        pids = (set(reranked.get(qid, {})) | set(first.get(qid, {})))
        rest = 1 - alpha - beta
        out[qid] = {p: alpha * r.get(p, 0.0) + beta * t.get(p, 0.0) + rest * f.get(p, 0.0) for p in pids}
    return out


def _validation_runs(rows: Iterable[tuple[str, str, float, float]], qrels: Mapping[str, Mapping[str, int]],
                     metric: str, relevance_level: int) -> tuple[RunDict, RunDict, dict, str]:
    """The reranked and first-stage runs of validation rows ``(qid, pid, reranker, first stage)``, the
    judgments of their queries, and ranx's name of ``metric`` at ``relevance_level``."""
    reranked: RunDict = {}
    first: RunDict = {}
    for qid, pid, score, first_score in rows:
        reranked.setdefault(qid, {})[pid] = float(score)
        first.setdefault(qid, {})[pid] = float(first_score)
    judged = {q: j for q, j in qrels.items() if q in reranked}
    return reranked, first, judged, metric_names(None, relevance_level, (metric,))[0]


def tune_alpha(rows: Iterable[tuple[str, str, float, float]], qrels: Mapping[str, Mapping[str, int]],
               metric: str = "ndcg@10", relevance_level: int = 1,
               grid: Sequence[float] = GRID) -> tuple[float, dict[float, float]]:
    """The reranker weight with the best ``metric`` on validation rows ``(qid, pid, reranker, first stage)``
    (ties: the larger weight), and the metric of every weight tried."""
    reranked, first, judged, name = _validation_runs(rows, qrels, metric, relevance_level)
    table = {a: evaluate_run(judged, interpolate(reranked, first, a), [name])[0][name] for a in grid}
    best = max(table, key=lambda a: (table[a], a))
    return best, table


def tune_fusion(rows: Iterable[tuple[str, str, float, float]], teacher: Mapping[str, Mapping[str, float]],
                qrels: Mapping[str, Mapping[str, int]], metric: str = "ndcg@10", relevance_level: int = 1,
                grid: Sequence[tuple[float, float]] = GRID_2D) -> tuple[tuple[float, float], dict]:
    """The (reranker, teacher) weights with the best ``metric`` on validation rows ``(qid, pid, reranker,
    first stage)`` and the teacher's scores of those pairs (ties: more weight on the reranker, then on the
    teacher), and the metric of every pair of weights tried."""
    reranked, first, judged, name = _validation_runs(rows, qrels, metric, relevance_level)
    table = {w: evaluate_run(judged, interpolate(reranked, first, w[0], teacher, w[1]), [name])[0][name]
             for w in grid}
    best = max(table, key=lambda w: (table[w], w))
    return best, table
