"""Score interpolation with the first stage: the fusion by hand, the weight tuned on validation queries only,
and the interpolated run reported beside the reranker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose_cfg

from crossrank.errors import ConfigError
from crossrank.evaluation.fusion import interpolate, tune_alpha, tune_fusion


def test_interpolate_by_hand() -> None:
    reranked = {"q": {"a": 2.0, "b": 0.0, "c": 1.0}}
    first = {"q": {"a": 10.0, "b": 30.0, "c": 20.0}}
    mixed = interpolate(reranked, first, 0.25)["q"]
    assert mixed == pytest.approx({"a": 0.25 * 1 + 0.75 * 0, "b": 0.25 * 0 + 0.75 * 1, "c": 0.25 * 0.5 + 0.75 * 0.5})
    assert interpolate(reranked, first, 1.0)["q"] == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.5})  # min-max
    teacher = {"q": {"a": 0.0, "b": 0.5, "c": 1.0}}  # already in [0, 1]
    mixed = interpolate(reranked, first, 0.5, teacher, 0.3)["q"]
    assert mixed == pytest.approx({"a": 0.5 * 1 + 0.3 * 0 + 0.2 * 0, "b": 0.5 * 0 + 0.3 * 0.5 + 0.2 * 1,
                                   "c": 0.5 * 0.5 + 0.3 * 1 + 0.2 * 0.5})


def test_tune_fusion_gives_the_teacher_weight_when_only_it_ranks_well() -> None:
    rows = [("q", "rel", 0.0, 0.0), ("q", "x", 2.0, 1.0), ("q", "y", 1.0, 0.5)]  # reranker, first stage: rel last
    (alpha, beta), table = tune_fusion(rows, {"q": {"rel": 0.9, "x": 0.1, "y": 0.0}}, {"q": {"rel": 1}}, "mrr@10")
    assert table[0.0, 1.0] == 1.0
    assert table[1.0, 0.0] == pytest.approx(1 / 3) and table[0.0, 0.0] == pytest.approx(1 / 3)
    assert table[alpha, beta] == 1.0 and beta > 0 and alpha + beta <= 1.0 + 1e-9
    assert len(table) == 66  # steps of 0.1 with a sum of at most 1


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

    from crossrank.cli.preflight import check_evaluate, check_train
    from crossrank.training.run import train

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
    # rerun from the finished run's last checkpoint (an interrupted evaluation, say): no validation is left to
    # run in training, so the weight is tuned on a validation of the final model, not refused
    resumed = train(compose_cfg("train", [*base, "data.pairs.val_queries=2", "eval.interpolate=val",
                                          f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}"], out))
    assert resumed["data"]["interpolation"]["alpha"] == alpha
    with pytest.raises(ConfigError, match=r"^eval.teacher_weight: set eval.teacher"):
        check_train(compose_cfg("train", [*base, "eval.interpolate=0.5", "eval.teacher_weight=0.2"], tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"^eval.teacher_weight: 0.8 must be in \[0, 1\] with eval.interpolate"):
        check_train(compose_cfg("train", [*base, "eval.interpolate=0.5", "eval.teacher=bi-encoder",
                                          "eval.teacher_weight=0.8"], tmp_path / "x"))
    # max_steps inside the first epoch: no validation ran during training; one runs at the end for the weights.
    # A teacher (here a cross-encoder folder) scores the validation pairs and the reranked pairs, is reported as
    # its own run, and its weight is tuned with the reranker's.
    out = tmp_path / "short"
    train(compose_cfg("train", [*base, "data.pairs.val_queries=2", "eval.interpolate=val", "trainer.max_steps=2",
                                f"eval.teacher={tiny_model_dir}"], out))
    metrics = json.loads((out / "eval" / "data" / "metrics.json").read_text())
    fusion = metrics["interpolation"]
    assert fusion["chosen"].startswith("tuned on 2 validation queries") and "teacher weight" in fusion["chosen"]
    assert fusion["teacher"] == str(tiny_model_dir) and fusion["alpha"] + fusion["teacher_weight"] <= 1.0 + 1e-9
    assert set(metrics["others"]["teacher"]) == set(metrics["reranked"])
    teacher_lines = (out / "eval" / "data" / "run.teacher.trec").read_text().splitlines()
    assert len(teacher_lines) == 30 and "teacher" in (out / "eval" / "data" / "report.md").read_text()
    header = (out / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    for run in ("reranked", "interpolated", "teacher"):  # the loggers get the fusion and the teacher too
        assert f"eval/data/{run}/ndcg@10" in header, run
