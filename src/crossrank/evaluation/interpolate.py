"""Score interpolation: the final ranking as a weighted sum of the reranker's and the first stage's scores, each
min-max normalised per query; the weight is chosen on validation queries only (never on the reported ones)."""

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


def interpolate(reranked: Mapping[str, Mapping[str, float]], first: Mapping[str, Mapping[str, float]],
                alpha: float) -> RunDict:
    """``alpha * reranker + (1 - alpha) * first stage`` per query, both min-max normalised; a passage one run
    lacks counts 0 there."""
    out: RunDict = {}
    for qid in reranked.keys() | first.keys():
        r, f = minmax(reranked.get(qid) or {"": 0.0}), minmax(first.get(qid) or {"": 0.0})
        pids = (set(reranked.get(qid, {})) | set(first.get(qid, {})))
        out[qid] = {p: alpha * r.get(p, 0.0) + (1 - alpha) * f.get(p, 0.0) for p in pids}
    return out


def tune_alpha(rows: Iterable[tuple[str, str, float, float]], qrels: Mapping[str, Mapping[str, int]],
               metric: str = "ndcg@10", relevance_level: int = 1,
               grid: Sequence[float] = GRID) -> tuple[float, dict[float, float]]:
    """The reranker weight with the best ``metric`` on validation rows ``(qid, pid, reranker, first stage)``
    (ties: the larger weight), and the metric of every weight tried."""
    reranked: RunDict = {}
    first: RunDict = {}
    for qid, pid, score, first_score in rows:
        reranked.setdefault(qid, {})[pid] = float(score)
        first.setdefault(qid, {})[pid] = float(first_score)
    name = metric_names(None, relevance_level, (metric,))[0]
    judged = {q: j for q, j in qrels.items() if q in reranked}
    table = {a: evaluate_run(judged, interpolate(reranked, first, a), [name])[0][name] for a in grid}
    best = max(table, key=lambda a: (table[a], a))
    return best, table
