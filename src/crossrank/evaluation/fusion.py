"""Fusion: the final ranking as ``alpha * reranker + beta * teacher + (1 - alpha - beta) * first stage``, each run
min-max normalised per query (ranx's ``fuse``, ``norm="min-max"``, ``method="wsum"``); a passage one run lacks
counts 0 there. The weights are chosen on validation queries only, never on the reported ones.

The grid search is crossrank's own, not ranx's ``optimize_fusion``: that one keeps only weight combinations whose
float sum is exactly 1.0 (so it never tries 0.1 + 0.2 + 0.7) and breaks ties by trial order, where crossrank
tries every combination on the grid and breaks ties towards the reranker, then the teacher."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ranx import Run, fuse

from crossrank.errors import ConfigError
from crossrank.evaluation.metrics import RunDict, evaluate_run
from crossrank.evaluation.spec import metric_names

if TYPE_CHECKING:
    from crossrank.evaluation.spec import EvalSet

log = logging.getLogger(__name__)

#: weights of the reranker tried when tuning: 0 (first stage only) to 1 (reranker only) in steps of 0.05
GRID = tuple(round(i * 0.05, 2) for i in range(21))
#: (reranker, teacher) weights tried when a teacher is fused too: steps of 0.1 with a sum of at most 1
GRID_2D = tuple((round(a * 0.1, 1), round(b * 0.1, 1)) for a in range(11) for b in range(11 - a))
ValRows = Iterable[tuple[str, str, float, float]]  # (qid, pid, reranker score, first-stage score)


def interpolate(reranked: Mapping[str, Mapping[str, float]], first: Mapping[str, Mapping[str, float]],
                alpha: float, teacher: Mapping[str, Mapping[str, float]] | None = None, beta: float = 0.0) -> RunDict:
    """The fused run of runs over the same queries (a teacher, when given, scores the same pairs)."""
    runs = [reranked, *([teacher] if teacher is not None else []), first]
    weights = [alpha, *([beta] if teacher is not None else []), 1 - alpha - beta]
    fused = fuse([Run({q: dict(d) for q, d in run.items()}) for run in runs], norm="min-max", method="wsum",
                 params={"weights": weights})
    return {q: dict(docs) for q, docs in fused.to_dict().items()}


def _validation_runs(rows: ValRows, qrels: Mapping[str, Mapping[str, int]], metric: str,
                     relevance_level: int) -> tuple[RunDict, RunDict, dict, str]:
    """The reranked and first-stage runs of validation rows, the judgments of their queries, and ranx's name of
    ``metric`` at ``relevance_level``."""
    reranked: RunDict = {}
    first: RunDict = {}
    for qid, pid, score, first_score in rows:
        reranked.setdefault(qid, {})[pid] = float(score)
        first.setdefault(qid, {})[pid] = float(first_score)
    judged = {q: j for q, j in qrels.items() if q in reranked}
    return reranked, first, judged, metric_names(None, relevance_level, (metric,))[0]


def tune_alpha(rows: ValRows, qrels: Mapping[str, Mapping[str, int]], metric: str = "ndcg@10",
               relevance_level: int = 1, grid: Sequence[float] = GRID) -> tuple[float, dict[float, float]]:
    """The reranker weight with the best ``metric`` on validation rows (ties: the larger weight), and the metric
    of every weight tried."""
    reranked, first, judged, name = _validation_runs(rows, qrels, metric, relevance_level)
    table = {a: evaluate_run(judged, interpolate(reranked, first, a), [name])[0][name] for a in grid}
    best = max(table, key=lambda a: (table[a], a))
    return best, table


def tune_fusion(rows: ValRows, teacher: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]],
                metric: str = "ndcg@10", relevance_level: int = 1,
                grid: Sequence[tuple[float, float]] = GRID_2D) -> tuple[tuple[float, float], dict]:
    """The (reranker, teacher) weights with the best ``metric`` on validation rows and the teacher's scores of
    those pairs (ties: more weight on the reranker, then on the teacher), and the metric of every pair tried."""
    reranked, first, judged, name = _validation_runs(rows, qrels, metric, relevance_level)
    table = {w: evaluate_run(judged, interpolate(reranked, first, w[0], teacher, w[1]), [name])[0][name]
             for w in grid}
    best = max(table, key=lambda w: (table[w], w))
    return best, table


def tune_weights(spec: EvalSet, rows: list[tuple[str, str, float, float]], qrels: Mapping[str, Mapping[str, int]],
                 relevance_level: int, teacher: Mapping[str, Mapping[str, float]] | None = None) -> None:
    """Set ``spec.interpolate`` (and with a teacher ``spec.teacher_weight``) to the weights with the best nDCG@10
    on a validation's ``rows`` (the teacher scoring the same pairs), and say how they were chosen."""
    if not rows or not qrels:
        raise ConfigError(f"eval.interpolate: val tunes the weight on validation queries, and {spec.name} has none "
                          "(set data.pairs.val_queries, or give a weight in [0, 1])")
    queries = len({r[0] for r in rows} & set(qrels))
    if teacher is None:
        alpha, table = tune_alpha(rows, qrels, "ndcg@10", relevance_level)
        spec.interpolate = alpha
        spec.interpolation_note = (f"tuned on {queries} validation queries: nDCG@10 {table[alpha]:.4f} at weight "
                                   f"{alpha} (reranker only {table[1.0]:.4f}, first stage only {table[0.0]:.4f})")
    else:
        (alpha, beta), grid = tune_fusion(rows, teacher, qrels, "ndcg@10", relevance_level)
        spec.interpolate, spec.teacher_weight = alpha, beta
        spec.interpolation_note = (
            f"tuned on {queries} validation queries: nDCG@10 {grid[alpha, beta]:.4f} at reranker weight {alpha}, "
            f"teacher weight {beta} (reranker only {grid[1.0, 0.0]:.4f}, teacher only {grid[0.0, 1.0]:.4f}, "
            f"first stage only {grid[0.0, 0.0]:.4f})")
    log.info("eval.interpolate: %s", spec.interpolation_note)
