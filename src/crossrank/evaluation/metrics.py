"""ranx evaluation with trec_eval's conventions.

- nDCG uses the graded judgments as gains (trec_eval ``ndcg_cut``); MRR, MAP and recall count
  relevance >= ``relevance_level`` as relevant (ranx ``-l2`` = ``trec_eval -l 2``).
- Unjudged candidates are non-relevant. Queries with judgments but no candidates score 0 (they are
  averaged in: ``trec_eval -c``, and MS MARCO's official script); run queries without judgments are left out, as
  trec_eval does.
- Ties: passages with equal scores are ordered by passage id, descending, which is trec_eval's rule.
  Runs are re-scored by that order before ranx sees them, so results are deterministic and equal
  to trec_eval's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

from numba.core.errors import NumbaTypeSafetyWarning
from ranx import Qrels as RanxQrels
from ranx import Run as RanxRun
from ranx import evaluate

from crossrank.data.trec import order_key
from crossrank.evaluation.spec import metric_names

# ranx's compiled metrics cast qrels ids internally; nothing a user can act on
warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)

RunDict = dict[str, dict[str, float]]

def canonical_run(run: Mapping[str, Mapping[str, float]]) -> RunDict:
    """The same ranking with ties broken by pid descending, re-scored as n, n-1, ... 1 per query."""
    out: RunDict = {}
    for qid, docs in run.items():
        ordered = sorted(docs.items(), key=order_key, reverse=True)
        n = len(ordered)
        out[qid] = {pid: float(n - i) for i, (pid, _) in enumerate(ordered)}
    return out


def evaluate_run(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                 metrics: list[str], name: str = "run") -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(mean metrics, per-query metrics {metric: {qid: value}}) over the judged queries. A judged query the run
    has no candidate for scores 0 on every metric (``trec_eval -c``'s convention); ranx sees only the others, so a
    run that covers few or none of the judged queries is scored too."""
    judged = {q: dict(j) for q, j in qrels.items() if j}
    per_query = {m: dict.fromkeys(judged, 0.0) for m in metrics}
    scored = canonical_run({q: d for q, d in run.items() if q in judged and d})
    if scored:
        ranx_run = RanxRun(scored, name=name)
        evaluate(RanxQrels({q: judged[q] for q in scored}), ranx_run, metrics, make_comparable=False)
        for m in metrics:
            per_query[m].update({q: float(v) for q, v in ranx_run.scores[m].items()})
    means = {m: sum(values.values()) / len(values) if values else float("nan") for m, values in per_query.items()}
    return means, per_query


def rows_to_run(rows: Iterable[tuple[str, str, float]]) -> RunDict:
    """(qid, pid, score) rows -> {qid: {pid: score}}."""
    run: RunDict = {}
    for qid, pid, score in rows:
        run.setdefault(qid, {})[pid] = float(score)
    return run


def validation_metrics(qrels: Mapping[str, Mapping[str, int]], rows: Iterable[tuple[str, str, float]],
                       relevance_level: int = 1) -> dict[str, float]:
    """nDCG@10 and MRR@10 of scored validation candidates (keys ``ndcg@10``, ``mrr@10``)."""
    names = metric_names(None, relevance_level, ("ndcg@10", "mrr@10"))
    means, _ = evaluate_run(qrels, rows_to_run(rows), names, "val")
    return {"ndcg@10": means[names[0]], "mrr@10": means[names[1]]}
