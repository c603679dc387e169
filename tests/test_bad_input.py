"""The bad-input table of docs/reliability.md, case by case: each gives one `error:` line (the whole of stderr for the
cases found before any model is loaded), exit status 2 and no metrics. A passage longer than max_length is
not an error: it is cut."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def evaluate_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "evaluate.py", *args, "progress=false"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def edit(folder: Path, name: str, change) -> None:
    path = folder / name
    if change is None:
        path.unlink()
    elif isinstance(change, bytes):
        path.write_bytes(change)
    else:
        path.write_text(change(path.read_text()) if callable(change) else change)


CASES = [  # (id, file, change, message)
    ("missing file", "queries.tsv", None, "queries.tsv: file not found"),
    ("empty file", "qrels.tsv", "", "qrels.tsv: file is empty"),
    ("wrong columns", "qrels.tsv", lambda t: t.replace("q1\t0\tp1_0\t2", "q1\t0\tp1_0"),
     "qrels.tsv:3: expected 4 columns (qid, 0, pid, relevance), found 3"),
    ("duplicate qid", "queries.tsv", lambda t: t + "q0\tagain\n", "queries.tsv:7: duplicate id 'q0'"),
    ("duplicate pid", "collection.tsv", lambda t: t + "p0_0\tagain\n", "collection.tsv:25: duplicate id 'p0_0'"),
    ("qrels qid unknown", "qrels.tsv", lambda t: t + "qX\t0\tp0_0\t1\n",
     "qrels.tsv:13: qid 'qX' is not in queries.tsv"),
    ("run pid unknown", "run.tsv", lambda t: t.replace("q0\tQ0\tp0_0", "q0\tQ0\tghost", 1),
     "run.tsv:2: pid 'ghost' is not in the collection"),
    ("run qid unknown", "run.tsv", lambda t: "qZ\tQ0\tp0_0\t1\t9.0\tbm25\n" + t,
     "run.tsv:1: qid 'qZ' is not in the queries"),
    ("duplicate run row", "run.tsv", lambda t: t.replace("q0\tQ0\tp0_2", "q0\tQ0\tp0_0", 1),
     "run.tsv:3: pid 'p0_0' is listed twice for qid 'q0'"),
    ("not UTF-8", "collection.tsv", b"p0_0\tcaf\xe9\n", "collection.tsv:1: not valid UTF-8"),
]


@pytest.mark.parametrize(("file", "change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_data(file: str, change, message: str, tiny_model_dir: Path, irdata_dir: Path, tmp_path: Path,
                  capsys) -> None:
    """In process (evaluate.py's own code path, without a new interpreter for each case)."""
    from helpers import compose_cfg

    from crossrank.cli.app import run

    edit(irdata_dir, file, change)
    cfg = compose_cfg("evaluate", [f"model.name_or_path={tiny_model_dir}", f"eval.path={irdata_dir}",
                                   "progress=false", "model.device=cpu"], tmp_path)
    with pytest.raises(SystemExit) as exit_:
        run("evaluate", cfg)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert exit_.value.code == 2 and len(errors) == 1 and message in errors[0], errors
    assert not list(tmp_path.rglob("metrics.json"))


@pytest.mark.slow
def test_config_and_model_errors(tiny_model_dir: Path, irdata_dir: Path, tmp_path: Path) -> None:
    from crossrank.models.hub import packaged_minilm

    cases = [
        (["+experiment=nope"],
         "error: Could not find 'experiment/nope' (available: bce_baseline, distill_baseline, local_cpu,"),
        ([f"model.name_or_path={tiny_model_dir}", "eval.depht=3"], "error: Could not override 'eval.depht'"),
        ([f"model.name_or_path={tmp_path / 'nope'}"], "does not exist"),
        ([f"model.name_or_path={packaged_minilm()}"],
         "holds a bare encoder (BertModel) with no trained reranking head; give a trained cross-encoder"),
        ([f"model.name_or_path={tiny_model_dir}", "model.max_length=1024"],
         "error: model.max_length: 1024 is more than"),
    ]
    for args, message in cases:
        proc = evaluate_py(*args, f"eval.path={irdata_dir}", f"hydra.run.dir={tmp_path / 'o'}")
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], (args, proc.stderr[-2000:])
        if args[0].startswith(("+experiment", f"model.name_or_path={tiny_model_dir}")) and "max_length" not in args[-1]:
            assert lines == errors  # found while composing the config: nothing else is printed


def test_a_passage_longer_than_max_length_is_cut(tiny_model_dir: Path, irdata_dir: Path, tmp_path: Path) -> None:
    edit(irdata_dir, "collection.tsv", lambda t: t.replace("\t", "\t" + "very long words " * 300, 1))
    proc = evaluate_py(f"model.name_or_path={tiny_model_dir}", f"eval.path={irdata_dir}", "model.max_length=32",
                       f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(next(tmp_path.glob("eval/*/metrics.json")).read_text())["n_pairs"] == 30


def test_the_suites_tiny_model_without_its_variable_is_one_line(monkeypatch, tmp_path: Path, capsys) -> None:
    """conf/model/tiny.yaml reads CROSSRANK_TINY_MODEL (tests/tiny.py builds the model and sets it)."""
    from helpers import compose_cfg

    from crossrank.cli.app import run

    monkeypatch.delenv("CROSSRANK_TINY_MODEL")
    cfg = compose_cfg("train", ["model=tiny"], tmp_path)
    with pytest.raises(SystemExit) as exit_:
        run("train", cfg)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_.value.code == 2 and errors == [
        "error: config key model.name_or_path: Environment variable 'CROSSRANK_TINY_MODEL' not found"]
