"""The MS MARCO recipes run as a user with internet runs them, on stand-ins where the libraries look: ir_datasets'
cache layout (tests/msmarco.py) and a local copy of the hub dataset (tests/hf_rows.py). bce_baseline through
ir_datasets trains and reports dev/small, DL19 and DL20 with BM25-ordered first stages; distill_baseline and crossrank
mine run on the same stand-in; bce_baseline on the seed card's own rows builds 1 + every negative per kept row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose_cfg
from hf_rows import write_seed_rows
from msmarco import write_msmarco, write_teacher_triples

CPU = ["trainer=cpu", "trainer.log_every_n_steps=1", "logger=csv", "progress=false"]


@pytest.fixture(scope="module")
def msmarco() -> Path:
    return write_msmarco()


def first_stage_by_pid(rows_file: Path, qrels: dict[str, dict[str, int]]) -> float:
    """nDCG@10 of the official candidates in pid order (trec_eval's order of tied scores): the figure the first
    stage must not be."""
    from ranx import Qrels, Run, evaluate

    candidates: dict[str, list[str]] = {}
    for line in rows_file.read_text().splitlines():
        q, p = line.split("\t")
        candidates.setdefault(q, []).append(p)
    run = {q: {p: float(len(ps) - i) for i, p in enumerate(sorted(ps, reverse=True))}
           for q, ps in candidates.items() if q in qrels}
    return float(evaluate(Qrels(qrels), Run(run), "ndcg@10"))


@pytest.mark.slow
def test_bce_baseline_through_ir_datasets_reports_three_sets_with_bm25_first_stages(
        msmarco: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from crossrank.data.irds import IRDatasetsSource
    from crossrank.training.run import train

    cfg = compose_cfg("train", ["+experiment=bce_baseline", "data=msmarco", *CPU, "trainer.max_steps=6",
                                f"model.name_or_path={tiny_model_dir}", "model.max_length=128"], tmp_path)
    assert cfg.trainer.precision == "32-true"  # the card trained in fp32
    results = train(cfg)
    assert set(results) == {"msmarco_dev_small", "trec_dl_2019", "trec_dl_2020"}
    for name, dataset_id, run_file in (("msmarco_dev_small", "msmarco-passage/dev/small", "dev/ms.run"),
                                       ("trec_dl_2019", "msmarco-passage/trec-dl-2019/judged", "trec-dl-2019/ms.run"),
                                       ("trec_dl_2020", "msmarco-passage/trec-dl-2020/judged", "trec-dl-2020/ms.run")):
        metrics = json.loads((tmp_path / "eval" / name / "metrics.json").read_text())
        assert "(no scores), ordered by BM25 (bm25s, k1 0.9, b 0.4)" in metrics["first_stage_name"]
        qrels = IRDatasetsSource(dataset_id).qrels()
        pid_order = first_stage_by_pid(msmarco / run_file, qrels)
        assert metrics["first_stage"]["ndcg@10"] > pid_order + 0.3, name  # BM25's order, not the pids'
        assert "First stage: " in (tmp_path / "eval" / name / "report.md").read_text()
    assert (tmp_path / "model" / "config.json").is_file()


@pytest.mark.slow
def test_distill_baseline_and_mining_run_on_msmarco_through_ir_datasets(msmarco: Path, tiny_model_dir: Path,
                                                                         tmp_path: Path, capsys) -> None:
    import pandas as pd

    from crossrank.cli.main import main as crossrank
    from crossrank.training.run import train

    write_teacher_triples()
    cfg = compose_cfg("train", ["+experiment=distill_baseline", *CPU, "trainer.precision=32-true",
                                "trainer.max_steps=4", "trainer.val_check_interval=null", "data.pairs.val_queries=4",
                                "eval=none", "extra_eval=[]", "scheduler.warmup_steps=0",
                                f"model.name_or_path={tiny_model_dir}", "model.max_length=128"], tmp_path / "distill")
    train(cfg)
    logged = pd.read_csv(tmp_path / "distill" / "csv" / "metrics.csv")
    assert logged["train/loss_step"].notna().sum() > 0 and logged["val/ndcg@10"].notna().any()
    out = tmp_path / "mined.run"
    assert crossrank(["mine", "--dataset-id", "msmarco-passage/train/judged", "--teacher", str(tiny_model_dir),
                      "--out", str(out), "--depth", "10", "--num-negatives", "4"]) == 0
    mined = [line.split() for line in out.read_text().splitlines()]
    judged = {line.split()[0] for line in (msmarco / "train" / "qrels").read_text().splitlines()}
    assert {row[0] for row in mined} <= judged and len(mined) > 0
    assert all(sum(1 for r in mined if r[0] == q) <= 4 for q in judged)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_bce_baseline_on_the_seed_rows_builds_one_positive_and_every_negative_per_row(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    from crossrank.training.run import train

    rows = write_seed_rows(tmp_path / "seed", n_rows=60)
    kept = [r for r in rows[:40] if not r["has_instruction"]]
    cfg = compose_cfg("train", ["+experiment=bce_baseline", f"data.hf.path={tmp_path / 'seed'}", "data.hf.rows=40",
                                *CPU, "trainer.max_steps=2", "eval=none", "extra_eval=[]",
                                f"model.name_or_path={tiny_model_dir}", "model.max_length=128"], tmp_path / "out")
    assert cfg.data.kind == "hf" and cfg.data.hf.path == str(tmp_path / "seed")  # bce_baseline's default data
    train(cfg)
    pairs = sum(1 + len(r["negative_passages"]) for r in kept)
    card = (tmp_path / "out" / "model" / "README.md").read_text()
    assert f"* Size: {pairs:,} training samples ({len(kept)} positive)" in card
    assert f"its first 40 rows, the rows where has_instruction == false: {len(kept)} rows" in card


def test_a_depth_cut_of_candidates_without_scores_uses_bm25_or_is_refused(msmarco: Path, tiny_model_dir: Path,
                                                                          tmp_path: Path, capsys) -> None:
    from crossrank.cli.app import run

    def evaluate(out: Path, *extra: str):
        cfg = compose_cfg("evaluate", [f"model.name_or_path={tiny_model_dir}", "eval=trec_dl_2019", "eval.depth=10",
                                       "progress=false", "model.device=cpu", *extra], out)
        return run("evaluate", cfg)

    evaluate(tmp_path / "auto")
    metrics = json.loads((tmp_path / "auto" / "eval" / "trec_dl_2019" / "metrics.json").read_text())
    assert metrics["n_pairs"] == 6 * 10 and "ordered by BM25" in metrics["first_stage_name"]
    with pytest.raises(SystemExit) as exit_:
        evaluate(tmp_path / "run", "eval.first_stage=run")
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert exit_.value.code == 2 and len(errors) == 1, errors
    assert errors[0].startswith("error: eval.first_stage: run: the candidates of")
    assert "cannot be cut at depth 10" in errors[0] and "eval.first_stage=auto orders them by BM25" in errors[0]
    assert not (tmp_path / "run" / "eval").exists()
