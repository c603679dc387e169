"""Score interpolation with the first stage: the fusion by hand, the weight tuned on validation queries only,
and the interpolated run reported beside the reranker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose_cfg

from crossrank.errors import ConfigError
from crossrank.evaluation.interpolate import interpolate, minmax, tune_alpha


def test_interpolate_by_hand() -> None:
    reranked = {"q": {"a": 2.0, "b": 0.0, "c": 1.0}}
    first = {"q": {"a": 10.0, "b": 30.0, "c": 20.0}}
    assert minmax(reranked["q"]) == {"a": 1.0, "b": 0.0, "c": 0.5}
    mixed = interpolate(reranked, first, 0.25)["q"]
    assert mixed == pytest.approx({"a": 0.25 * 1 + 0.75 * 0, "b": 0.25 * 0 + 0.75 * 1, "c": 0.25 * 0.5 + 0.75 * 0.5})
    assert interpolate(reranked, first, 1.0)["q"] == pytest.approx(minmax(reranked["q"]))


def test_tune_alpha_picks_the_weight_that_ranks_best() -> None:
    # the first stage puts the relevant passage last, the reranker second: only weights >= 0.55 rank it first
    rows = [("q", "rel", 1.0, 0.0), ("q", "x", 2.0, 1.0), ("q", "y", 0.0, 0.5)]
    alpha, table = tune_alpha(rows, {"q": {"rel": 1}}, "mrr@10")
    assert table[0.0] == pytest.approx(1 / 3) and table[1.0] == pytest.approx(1 / 2)
    assert alpha == 1.0 and max(table.values()) == table[alpha]
    rows = [("q", "rel", 1.9, 1.0), ("q", "x", 2.0, 0.0), ("q", "y", 0.0, 0.5)]
    alpha, table = tune_alpha(rows, {"q": {"rel": 1}}, "mrr@10")
    assert table[alpha] == 1.0 and 0.0 < alpha < 1.0  # neither alone ranks it first; the blend does


def test_train_reports_the_interpolated_run_with_the_weight_from_validation(tmp_path: Path,
                                                                            tiny_model_dir: Path) -> None:
    from conftest import write_irdata

    from crossrank.preflight import check_evaluate, check_train
    from crossrank.training import train

    data = write_irdata(tmp_path / "data", with_run=True)
    base = ["model=tiny", "data=local", f"data.path={data}", "eval=local", f"eval.path={data}",
            "eval.relevance_level=2", "data.pairs.min_relevance=2", "data.pairs.negatives_per_query=3",
            "data.batch_size=4", "trainer.max_epochs=1", "progress=false", "logger=csv", "export=false"]
    with pytest.raises(ConfigError, match=r"^eval.interpolate: val tunes the weight on validation queries; set"):
        check_train(compose_cfg("train", [*base, "eval.interpolate=val"], tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"^eval.interpolate: 1.5 must be a weight in \[0, 1\]"):
        check_train(compose_cfg("train", [*base, "eval.interpolate=1.5"], tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"^eval.interpolate: val is tuned on train.py's validation queries"):
        check_evaluate(compose_cfg("evaluate", [f"model.name_or_path={tiny_model_dir}", "eval=local",
                                                f"eval.path={data}", "eval.interpolate=val"], tmp_path / "y"))
    out = tmp_path / "out"
    train(compose_cfg("train", [*base, "data.pairs.val_queries=2", "eval.interpolate=val"], out))
    metrics = json.loads((out / "eval" / "data" / "metrics.json").read_text())
    alpha = metrics["interpolation"]["alpha"]
    assert 0.0 <= alpha <= 1.0
    assert metrics["interpolation"]["chosen"].startswith("tuned on 2 validation queries: nDCG@10")
    assert set(metrics["interpolated"]) == set(metrics["reranked"])
    lines = (out / "eval" / "data" / "run.interpolated.trec").read_text().splitlines()
    assert len(lines) == len((out / "eval" / "data" / "run.trec").read_text().splitlines()) == 30
    assert "interpolated" in (out / "eval" / "data" / "report.md").read_text()
    # max_steps inside the first epoch: no validation ran during training; one runs at the end for the weight
    out = tmp_path / "short"
    train(compose_cfg("train", [*base, "data.pairs.val_queries=2", "eval.interpolate=val", "trainer.max_steps=2"],
                      out))
    metrics = json.loads((out / "eval" / "data" / "metrics.json").read_text())
    assert metrics["interpolation"]["chosen"].startswith("tuned on 2 validation queries")
