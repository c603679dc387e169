"""crossrank.tracking.record: a record of a finished run with what a paper table needs, never weights, and
one-line errors for paths that are not runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrank.cli.main import main as crossrank
from crossrank.errors import CrossrankError
from crossrank.tracking import record as record_mod
from crossrank.tracking.runs import RunDir


def test_record_holds_the_command_and_results(multirun: Path, tmp_path: Path) -> None:
    out = record_mod.record(multirun / "0", name="tiny_lr1e-4", into=tmp_path, note="Two-job smoke sweep.")
    assert out == tmp_path / "tiny_lr1e-4"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"README.md", "config.yaml", "overrides.yaml", "run.json", "metrics.json", "report.md", "curves.png",
            "csv/metrics.csv", "model_card.md", "eval/data/metrics.json", "eval/data/per_query.tsv"} <= names
    assert not [n for n in names if n.endswith((".safetensors", ".ckpt", ".bin", ".pt"))]  # never weights
    readme = (out / "README.md").read_text()
    info = json.loads((multirun / "0" / "run.json").read_text())
    for text in ("Two-job smoke sweep.", info["command"], "optimizer.lr=0.0001", info["git"]["commit"],
                 "| seed | 42 |", "wall time", "offline run", "| b | reranked |", "Superscripts", "curves.png"):
        assert text in readme, text
    assert json.loads((out / "metrics.json").read_text())["data"]["reranked"]["ndcg@10"] > 0
    # a record reads back as a run: compare and re-record work on it
    assert RunDir(out).evaluations()["data"]["n_pairs"] == 30


@pytest.mark.parametrize(("target", "message"), [
    ("missing", "no such directory"),
    ("empty", "not a run"),
    ("SWEEP", "a folder of 2 runs; record one of them"),
])
def test_bad_run_dirs_fail_in_one_line(target: str, message: str, multirun: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    path = multirun if target == "SWEEP" else tmp_path / target
    with pytest.raises(CrossrankError, match=message):
        record_mod.record(path, into=tmp_path / "records")
    assert crossrank(["record", str(path), "--into", str(tmp_path / "records")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "records").exists() or not list((tmp_path / "records").iterdir())


def test_existing_record_and_failure_midway(multirun: Path, tmp_path: Path, monkeypatch) -> None:
    record_mod.record(multirun / "0", name="r", into=tmp_path)
    with pytest.raises(CrossrankError, match="already exists"):
        record_mod.record(multirun / "0", name="r", into=tmp_path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("crossrank.tracking.curves.save_curves", broken)
    with pytest.raises(CrossrankError, match=r"/s: cannot write \(disk full\)"):
        record_mod.record(multirun / "1", name="s", into=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # nothing half-written
