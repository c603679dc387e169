"""train.py's bad-input behaviour: one clear line, non-zero exit, no complete-looking outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("qrels.tsv", "q0\t0\tp0_0\n"), "qrels.tsv:1: expected 4 columns (qid, 0, pid, relevance), found 3"),
        (("queries.tsv", ""), "queries.tsv: file is empty"),
        (("run.tsv", "q0 Q0 nope 1 1.0 x\n"), "run.tsv:1: pid 'nope' is not in the collection"),
        (("collection.tsv", b"p0_0\t\xff\xfe\n"), "collection.tsv:1: not valid UTF-8"),
    ],
)
def test_bad_data(edit, message, irdata_dir: Path, tmp_path: Path) -> None:
    name, content = edit
    (irdata_dir / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    proc = run_train("model=tiny", "data=local", f"data.path={irdata_dir}", "eval=none", "logger=csv",
                     f"hydra.run.dir={out}", "progress=false")
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (out / "model").exists() and not (out / "checkpoints").exists()


def test_unknown_experiment_and_key() -> None:
    proc = run_train("+experiment=nope", "--cfg", "job")
    assert proc.returncode != 0 and "experiment/nope" in proc.stderr
    proc = run_train("+experiment=quickstart", "optimizer.lrr=1", "--cfg", "job")
    assert proc.returncode != 0 and "optimizer.lrr" in proc.stderr


def test_missing_data_path(tmp_path: Path) -> None:
    proc = run_train("model=tiny", "data=local", "eval=none", "logger=csv", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2 and "error: config key data.path must be set" in proc.stderr


def test_incomplete_eval_and_missing_model(irdata_dir: Path, tmp_path: Path) -> None:
    proc = run_train("model=tiny", "data=local", f"data.path={irdata_dir}", "eval=none", "+eval.depth=3",
                     "logger=csv", f"hydra.run.dir={tmp_path / 'a'}")
    assert proc.returncode == 2 and "error: eval: not an evaluation set" in proc.stderr
    proc = run_train("model=tiny", "model.name_or_path=/no/model", "data=local", f"data.path={irdata_dir}",
                     "eval=none", "logger=csv", f"hydra.run.dir={tmp_path / 'b'}")
    assert proc.returncode == 2 and "error: model.name_or_path: /no/model is not a model folder" in proc.stderr
