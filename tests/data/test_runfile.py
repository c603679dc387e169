"""The fast run-file reader picks the same candidates, in the same order, as the line-by-line reader."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from crossrank.data.candidates import first_stage
from crossrank.data.irds import IRDatasetsSource
from crossrank.data.local import LocalSource
from crossrank.data.runfile import pick
from crossrank.data.trec import group_run


def write_run(path: Path, rows, columns: int, sep: str) -> None:
    lines = []
    for rank, (q, p, s) in enumerate(rows):
        cols = {6: [q, "Q0", p, str(rank), repr(s), "tag"], 3: [q, p, repr(s)], 2: [q, p]}[columns]
        lines.append(sep.join(cols))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("columns", "sep"), [(6, " "), (6, "\t"), (3, "\t"), (2, " ")])
def test_pick_matches_the_line_reader(columns: int, sep: str, tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = [(f"q{rng.randint(0, 40)}", f"p{rng.randint(0, 500)}", float(rng.randint(0, 5))) for _ in range(3000)]
    rows = list({(q, p): (q, p, s) for q, p, s in rows}.values())  # one row per (qid, pid)
    if columns == 2:
        rows = [(q, p, 0.0) for q, p, _ in rows]
    write_run(tmp_path / "run.tsv", rows, columns, sep)
    wanted = {f"q{i}" for i in range(0, 40, 3)} | {"q-unknown"}
    for depth in (None, 5):
        fast = pick(tmp_path / "run.tsv", wanted, depth, block_size=4096)
        assert fast == group_run(rows, wanted, depth)  # ties (equal scores) ordered by pid descending


def test_unparseable_files_fall_back(tmp_path: Path) -> None:
    (tmp_path / "run.tsv").write_text("q1  Q0 p1 1 2.0 x\n")  # two spaces: not for the Arrow reader
    assert pick(tmp_path / "run.tsv", {"q1"}, 10) is None
    (tmp_path / "run.tsv").write_text("q1 Q0 p1 1 2.0 x\nq1 Q0 p2 2 high x\n")
    assert pick(tmp_path / "run.tsv", {"q1"}, 10) is None


def test_first_stage_uses_it_for_local_and_ir_datasets(irdata_dir: Path, monkeypatch) -> None:
    import crossrank.data.runfile as runfile
    from data.test_sources import register_local_ir_dataset

    calls = []
    real = runfile.pick
    monkeypatch.setattr(runfile, "pick", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    local = LocalSource(str(irdata_dir))
    ird = IRDatasetsSource(register_local_ir_dataset("crossrank-test/runfile", irdata_dir))
    wanted = {"q1", "q3"}
    expected = group_run(local.iter_run(), wanted, 3)
    assert first_stage(local, wanted, 3) == expected == first_stage(ird, wanted, 3)
    assert len(calls) == 2
    # an id the run names but the collection lacks: the line-by-line reader reports the line
    (irdata_dir / "run.tsv").write_text((irdata_dir / "run.tsv").read_text().replace("q1\tQ0\tp1_1", "q1\tQ0\tghost"))
    from crossrank.errors import DataError

    with pytest.raises(DataError, match="pid 'ghost' is not in the collection"):
        first_stage(LocalSource(str(irdata_dir)), wanted, 3)


@pytest.mark.parametrize("score", ["nan", "inf", "-inf"])
def test_run_file_rejects_a_score_that_is_not_finite(tmp_path: Path, score: str) -> None:
    from crossrank.data.trec import read_run
    from crossrank.errors import DataError

    path = tmp_path / "run.trec"
    path.write_text(f"q1 Q0 p1 1 2.5 bm25\nq1 Q0 p2 2 {score} bm25\n")
    with pytest.raises(DataError, match=rf"run.trec:2: score '{score}' is not a finite number"):
        list(read_run(path))
