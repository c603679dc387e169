"""k-fold cross-validation: disjoint folds, held-out queries never trained on and alone in evaluation, per-fold
and pooled reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose_cfg

from crossrank.errors import ConfigError
from crossrank.training.cv import assign_folds


def test_folds_are_disjoint_and_cover_every_query() -> None:
    qids = [f"q{i}" for i in range(11)]
    folds = assign_folds(qids, 3, seed=1)
    assert sorted(q for f in folds for q in f) == sorted(qids)
    assert sorted(len(f) for f in folds) == [3, 4, 4]
    assert assign_folds(qids, 3, seed=1) == folds and assign_folds(qids, 3, seed=2) != folds
    with pytest.raises(ConfigError, match=r"^cv.folds: 12 folds need 2 to 11"):
        assign_folds(qids, 12, seed=1)


def test_cross_validation_end_to_end(tmp_path: Path, tiny_model_dir: Path) -> None:
    from conftest import write_irdata

    from crossrank.data.datamodule import PairDataModule
    from crossrank.training.cv import cross_validate, fold_config

    data = write_irdata(tmp_path / "data", with_run=True)
    out = tmp_path / "out"
    cfg = compose_cfg("train", ["+experiment=local_cpu_cv", "model=tiny", f"data.path={data}", "cv.folds=3",
                                "eval.relevance_level=2", "data.pairs.min_relevance=2", "data.pairs.val_queries=1",
                                "eval.interpolate=val", "data.pairs.negatives_per_query=3", "data.batch_size=4",
                                "data.group_size=2",
                                "trainer.max_steps=4", "progress=false", "logger=csv",
                                f"eval.teacher={tiny_model_dir}"], out)  # a fast stand-in for the bi-encoder
    result = cross_validate(cfg)
    folds = assign_folds([f"q{i}" for i in range(6)], 3, seed=42)
    assert result["folds_run"] == [0, 1, 2] and result["queries"] == 6
    for k, held_out in enumerate(folds):
        fold_out = out / f"fold{k}"
        run_qids = {line.split()[0] for line in (fold_out / "eval" / f"fold{k}" / "run.trec").read_text().splitlines()}
        assert run_qids == set(held_out)  # only the held-out fold is reranked
        dm = PairDataModule(**{k2: v for k2, v in fold_config(cfg, k, held_out, out).data.items()
                               if k2 != "_target_"})
        dm.build()
        assert not set(dm.train_dataset["qid"]) & set(held_out)  # ... and never trained on
        assert not set(dm.val_qrels) & set(held_out)  # ... nor validated on
    metrics = json.loads((out / "cv" / "metrics.json").read_text())
    assert set(metrics["per_fold"]) == {"0", "1", "2"}
    assert set(metrics["pooled"]) == {"first_stage", "reranked", "teacher", "interpolated"}
    assert all(metrics["per_fold"][str(k)]["teacher"]["ndcg@10"] >= 0 for k in range(3))
    ndcg = [metrics["per_fold"][str(k)]["reranked"]["ndcg@10"] for k in range(3)]
    assert metrics["mean_of_folds"]["reranked"]["ndcg@10"] == pytest.approx(sum(ndcg) / 3)
    report = (out / "cv" / "report.md").read_text()
    assert "| mean |" in report and "6 held-out queries, pooled" in report
    from crossrank.tracking.record import record

    rec = record(out, "cv_test", tmp_path / "experiments")
    assert (rec / "cv" / "metrics.json").is_file() and (rec / "fold2" / "run.json").is_file()
    assert "| mean |" in (rec / "README.md").read_text() and (rec / "fold0" / "eval" / "fold0" / "run.trec").is_file()
    assert (rec / "fold0" / "eval" / "fold0" / "run.teacher.trec").is_file()  # every run file, the teacher's too
    assert (rec / "fold1" / "config.yaml").read_text().count("exclude_queries") == 1  # each fold's own config
    # a cross-validation (run dir or record) compares as one run on its pooled held-out queries, every ranking
    # it made shown and labelled
    from crossrank.tracking.compare import compare

    table = compare([str(out), str(rec)], ["ndcg@10"])[0]
    assert table["set"] == "data"
    scores = table["report"].to_dict()
    assert table["report"].model_names == ["first_stage", "out [reranked]", "out [fused]", "out [teacher]",
                                           "cv_test [reranked]", "cv_test [fused]", "cv_test [teacher]"]
    assert scores["cv_test [fused]"]["scores"]["ndcg@10"] == pytest.approx(
        metrics["pooled"]["interpolated"]["ndcg@10"], abs=1e-4)
    assert scores["out [reranked]"]["scores"]["ndcg@10"] == pytest.approx(
        metrics["pooled"]["reranked"]["ndcg@10"], abs=1e-4)


def test_cv_needs_the_same_folder(tmp_path: Path) -> None:
    from conftest import write_irdata

    from crossrank.training.cv import cross_validate

    data = write_irdata(tmp_path / "data", with_run=True)
    cfg = compose_cfg("train", ["+experiment=local_cpu_cv", "model=tiny", f"data.path={data}",
                                f"eval.path={tmp_path}"], tmp_path / "out")
    with pytest.raises(ConfigError, match=r"^cv: eval.path .* must be data.path"):
        cross_validate(cfg)
