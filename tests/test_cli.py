"""train.py's bad-input behaviour: one clear line, non-zero exit, no complete-looking outputs."""

from __future__ import annotations

import json
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
def test_bad_data(edit, message, irdata_dir: Path, tmp_path: Path, capsys) -> None:
    """The first case through train.py in a new interpreter (Hydra's log file included), the others in this
    process through the same entry point (crossrank.cli.app.run), which is what prints the line and exits."""
    name, content = edit
    (irdata_dir / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    args = ["model=tiny", "data=local", f"data.path={irdata_dir}", "eval=none", "logger=csv", "progress=false"]
    if name == "qrels.tsv":
        proc = run_train(*args, f"hydra.run.dir={out}")
        code, stderr = proc.returncode, proc.stderr
        assert message in (out / "train.log").read_text()  # the log holds the error line
    else:
        from helpers import compose_cfg

        from crossrank.cli.app import run

        cfg = compose_cfg("train", args, out)
        out.mkdir(parents=True, exist_ok=True)  # Hydra makes the run dir before the job starts
        with pytest.raises(SystemExit) as exit_:
            run("train", cfg)
        code, stderr = exit_.value.code, capsys.readouterr().err
    assert code == 2, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (out / "model").exists() and not (out / "checkpoints").exists()
    assert message in (out / "FAILED").read_text()  # the run dir says it failed


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
    assert proc.returncode == 2 and "error: model.name_or_path: /no/model does not exist" in proc.stderr


HEAVY = ("torch", "transformers", "lightning", "ranx", "numba", "datasets", "wandb")


def imported(stderr: str) -> set[str]:
    """Top-level modules named by ``python -X importtime``."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args", [
    ("data=local", "data.path=/no/such/dir", "eval=none"),
    ("+experiment=local_cpu", "data.path=DATA", "eval.path=/no/such/dir"),
    ("+experiment=quickstart", "optimizer.lrr=1"),
])
def test_config_and_data_errors_fail_before_heavy_imports(args, irdata_dir: Path, tmp_path: Path) -> None:
    """bad paths and keys fail before torch, transformers or a model is loaded (about a second)."""
    args = [a.replace("DATA", str(irdata_dir)) for a in args]
    proc = subprocess.run([sys.executable, "-X", "importtime", "train.py", *args, f"hydra.run.dir={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "/no/such/dir: data directory not found" in proc.stderr or "optimizer.lrr" in proc.stderr
    assert not imported(proc.stderr) & set(HEAVY), sorted(imported(proc.stderr) & set(HEAVY))


@pytest.mark.slow
def test_train_log_is_one_line_per_message(irdata_dir: Path, tmp_path: Path) -> None:
    """Lightning lines once, no W&B banner or deprecation notice, no Numba warnings; a run that
    succeeds leaves no FAILED marker."""
    out = tmp_path / "out"
    proc = run_train("model=tiny", "data=local", f"data.path={irdata_dir}", "eval=local", f"eval.path={irdata_dir}",
                     "eval.relevance_level=2", "trainer.max_epochs=1", "data.pairs.negatives_per_query=2",
                     "logger=default", "progress=false", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), lines
    for noise in ("anonymous", "Numba", "NumbaTypeSafetyWarning", "Tip:", "wandb: Tracking run", "LeafSpec"):
        assert noise not in proc.stderr, noise
    assert any("Seed set to 42" in line for line in lines)
    assert not (out / "FAILED").exists()
    assert list((out / "wandb").glob("offline-run-*"))


def test_offline_downloads_fail_in_one_line(irdata_dir: Path, tmp_path: Path) -> None:
    """+experiment=scifact without a network (a dead proxy stands in for it), and a Hub model id with
    HF_HUB_OFFLINE=1, each end in one error line that says the offline alternative; no traceback."""
    import os

    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "IR_DATASETS_HOME": str(tmp_path / "ird"), "CROSSRANK_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "train.py", "+experiment=scifact", "logger=csv",
                           f"hydra.run.dir={tmp_path / 'a'}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "ConnectionError" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: ir_datasets: cannot download the ")
    assert "beir/scifact/train from https://" in errors[0] and "data=local data.path=DIR" in errors[0]

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "evaluate.py", "model.name_or_path=cross-encoder/ms-marco-MiniLM-L6-v2",
                           "eval=local", f"eval.path={irdata_dir}", f"hydra.run.dir={tmp_path / 'b'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("error: model.name_or_path: cannot fetch 'cross-encoder/ms-marco-MiniLM-L6-v2' "
                                "from the Hugging Face Hub (https://huggingface.co)")
    assert "model.name_or_path=LOCAL_FOLDER (and HF_HUB_OFFLINE=1)" in errors[0]


def test_val_check_interval_beyond_an_epoch_is_one_line(irdata_dir: Path, tmp_path: Path) -> None:
    """Found running cross-validation on DL19: Lightning's refusal came as a 40-line traceback."""
    from helpers import compose_cfg

    from crossrank.cli.errors import user_error
    from crossrank.training.run import train

    cfg = compose_cfg("train", ["model=tiny", "data=local", f"data.path={irdata_dir}", "eval=none", "export=false",
                                "data.pairs.val_queries=2", "data.batch_size=4", "trainer.val_check_interval=1000",
                                "progress=false", "logger=csv"], tmp_path)
    with pytest.raises(ValueError) as err:
        train(cfg)
    message = user_error(err.value)
    assert message is not None and message.startswith("trainer.val_check_interval: 1000 is more than the ")
    assert message.endswith("give a fraction of an epoch (1.0: at its end) or at most that many batches")


def test_crossrank_train_is_train_py(tmp_path: Path) -> None:
    """The crossrank command hands Hydra the user's arguments alone (``--cfg job`` works), logs to train.log and
    records the command as it was typed."""
    crossrank = [sys.executable, "-m", "crossrank", "train", "+experiment=quickstart", "model=tiny"]
    shown = subprocess.run([*crossrank, "--cfg", "job"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "task_name: train" in shown.stdout
    out = tmp_path / "out"
    proc = subprocess.run([*crossrank, "trainer.max_steps=2", "eval=none", "export=false", "logger=csv",
                           "progress=false", f"hydra.run.dir={out}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "train.log").is_file()
    assert json.loads((out / "run.json").read_text())["command"].startswith(
        "crossrank train +experiment=quickstart model=tiny trainer.max_steps=2")
