"""crossrank's ranx metrics agree with pytrec_eval (trec_eval) on a self-made case and on the six real
first-stage runs of TREC DL 2019."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytrec_eval
from conftest import require_shared

from crossrank.data.trec import read_qrels, read_run
from crossrank.errors import ConfigError
from crossrank.evaluation.metrics import canonical_run, evaluate_run, rows_to_run
from crossrank.evaluation.spec import metric_names

TREC = {"mrr@10": "recip_rank", "ndcg@10": "ndcg_cut_10", "recall@100": "recall_100",
        "recall@1000": "recall_1000", "map": "map"}


def trec_eval(qrels: dict, run: dict, relevance_level: int) -> dict[str, float]:
    """Means over the run's judged queries, like `trec_eval -m ... [-l N]`; MRR@10 on the top-10 cut."""
    def mean(values: dict, measure: str) -> float:
        return sum(v[measure] for v in values.values()) / len(values)

    graded = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    binary = pytrec_eval.RelevanceEvaluator(qrels, {"recall.100,1000", "map"}, relevance_level=relevance_level)
    top10 = {q: dict(sorted(d.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]) for q, d in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}, relevance_level=relevance_level)
    out = {"ndcg_cut_10": mean(graded.evaluate(run), "ndcg_cut_10")}
    b = binary.evaluate(run)
    out.update({m: mean(b, m) for m in ("recall_100", "recall_1000", "map")})
    out["recip_rank"] = mean(rr.evaluate(top10), "recip_rank")
    return out


def compare_with_trec_eval(qrels: dict, run: dict, relevance_level: int, depth: int | None) -> dict[str, float]:
    names = metric_names(depth, relevance_level)
    ours, _ = evaluate_run(qrels, run, names)
    theirs = trec_eval(qrels, canonical_run(run), relevance_level)
    for name in names:
        base = name.split("-l")[0]
        assert ours[name] == pytest.approx(theirs[TREC[base]], abs=1e-4), name
    return ours


def test_small_case_with_grades_and_ties() -> None:
    qrels = {"q1": {"a": 3, "b": 1, "c": 2, "z": 2}, "q2": {"d": 1, "e": 0}}
    run = {"q1": {"a": 1.0, "b": 2.0, "c": 2.0, "x": 5.0, "y": 0.5}, "q2": {"e": 3.0, "d": 3.0, "f": 1.0}}
    ours = compare_with_trec_eval(qrels, run, relevance_level=2, depth=None)
    # tie b/c broken by pid descending: c (rel 2) before b -> q1 MRR@10 = 1/2; q2 has nothing >= 2 -> 0
    assert ours["mrr@10-l2"] == pytest.approx(0.25)
    compare_with_trec_eval(qrels, run, relevance_level=1, depth=None)


def test_unknown_metric() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'ndgc@10'"):
        metric_names(100, 1, ["ndgc@10"])


def test_recall_beyond_depth_is_dropped() -> None:
    assert metric_names(100, 2) == ["mrr@10-l2", "ndcg@10", "recall@100-l2", "map-l2"]


@pytest.mark.parametrize("run_file", ["bm25.top100.tsv", "bm25rm3.top100.tsv", "tasb.top100.tsv",
                                      "openai-ada2.top100.tsv", "splade-pp-ed.top100.tsv", "repllama.top200.tsv"])
def test_dl19_runs_agree_with_trec_eval(run_file: str) -> None:
    root = require_shared("trec-dl-2019-passage")
    qrels = read_qrels(root / "qrels.tsv")
    run = rows_to_run(read_run(Path(root / "runs" / run_file)))
    ours = compare_with_trec_eval(qrels, run, relevance_level=2, depth=1000)
    if run_file.startswith("bm25.top100"):
        assert round(ours["ndcg@10"], 4) == 0.5058  # the published Anserini BM25 figure
