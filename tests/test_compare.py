"""crossrank.tracking.compare: one table over runs and records with ranx's paired test, as markdown and LaTeX."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank.cli.main import main as crossrank
from crossrank.tracking import compare as compare_mod
from crossrank.tracking.record import record
from crossrank.tracking.runs import RunDir


def test_compare_a_multirun_and_a_record(multirun: Path, tmp_path: Path, capsys) -> None:
    rec = record(multirun / "1", name="rec", into=tmp_path)
    out = tmp_path / "cmp"
    assert crossrank(["compare", str(multirun), str(rec), "--metrics", "ndcg@10", "mrr@10", "--out", str(out)]) == 0
    markdown = (out.with_suffix(".md")).read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == 4 and "first_stage" in rows[0]  # first stage + two jobs + the record
    assert "optimizer.lr=" in rows[1] and "mrr@10-l2" in markdown and "Superscripts" in markdown
    assert "\\begin{tabular}" in out.with_suffix(".tex").read_text()
    assert "wrote" in capsys.readouterr().out


def test_means_and_p_values_match_the_per_query_values(multirun: Path) -> None:
    tables = compare_mod.compare([str(multirun / "0"), str(multirun / "1")], ["ndcg@10"])
    report = tables[0]["report"].to_dict()
    run = RunDir(multirun / "0")
    assert report[tables[0]["report"].model_names[1]]["scores"]["ndcg@10"] == pytest.approx(
        run.evaluations()["data"]["reranked"]["ndcg@10"], abs=1e-4)
    p = report[tables[0]["report"].model_names[1]]["comparisons"]["first_stage"]["ndcg@10"]
    saved = run.evaluations()["data"]["significance"]["ndcg@10"]  # the run's own paired test, same data
    assert p == pytest.approx(saved, rel=1e-6)


@pytest.mark.parametrize(("args", "message"), [
    (["MISSING"], "no such directory"),
    (["RUN", "--metrics", "ndgc@10"], "--metrics: ndgc@10 not in the results of data"),
    (["RUN", "EMPTYRUN"], "no evaluation set is shared by all runs"),
])
def test_bad_input_is_one_line(args, message: str, multirun: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "emptyrun" / "csv").mkdir(parents=True)
    (tmp_path / "emptyrun" / "csv" / "metrics.csv").write_text("step\n0\n")
    args = [a.replace("MISSING", str(tmp_path / "missing")).replace("EMPTYRUN", str(tmp_path / "emptyrun"))
            .replace("RUN", str(multirun / "0")) for a in args]
    assert crossrank(["compare", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_runs_over_different_first_stages_are_compared_with_a_warning(multirun: Path, tmp_path: Path,
                                                                      capsys) -> None:
    """Told by the first stage's per-query figures, not by its description (a copy of a set in another folder is
    described differently and holds the same candidates)."""
    import json
    import shutil

    moved = shutil.copytree(multirun / "1", tmp_path / "moved")
    metrics = moved / "eval" / "data" / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "first_stage_name": "the same run elsewhere"}))
    compare_mod.compare([str(multirun / "0"), str(moved)], ["ndcg@10"])
    assert "different first stages" not in capsys.readouterr().err
    per_query = moved / "eval" / "data" / "per_query.tsv"
    lines = per_query.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("first_stage\tndcg@10\t"))
    lines[row] = "\t".join([*lines[row].split("\t")[:3], "0.123456"])
    per_query.write_text("\n".join(lines) + "\n")
    tables = compare_mod.compare([str(multirun / "0"), str(moved)], ["ndcg@10"])
    err = capsys.readouterr().err
    assert "warning: data: the runs reranked different first stages" in err and "the same run elsewhere" in err
    assert any("different first stages" in note for note in tables[0]["notes"])
