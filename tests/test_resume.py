"""Reliability: a run stopped in training or validation (SIGKILL, SIGTERM) and resumed with ckpt_path=last ends
exactly where an uninterrupted run ends; non-finite losses stop (or skip) cleanly; checkpoints and outputs are
written atomically and loaded as data only; two runs with one seed are identical (the resume test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import compose_cfg
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
TINY = ["+experiment=quickstart", "model=tiny", "logger=csv", "progress=false", "keep_checkpoints=true",
        "callbacks.last_checkpoint.every_n_train_steps=10"]


def train_py(out: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "train.py", *TINY, *args, f"hydra.run.dir={out}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)


def checkpoint_step(out: Path) -> int:
    from crossrank.training.checkpoints import load_checkpoint

    return load_checkpoint(out / "checkpoints" / "last.ckpt")["global_step"]


def validations(out: Path) -> list[tuple[int, float]]:
    """(step, val/ndcg@10) of every validation in the CSV log."""
    import pandas as pd

    rows = pd.read_csv(out / "csv" / "metrics.csv").dropna(subset=["val/ndcg@10"])
    return list(zip(rows["step"].tolist(), rows["val/ndcg@10"].tolist()))


def assert_same_run(a: Path, b: Path) -> None:
    """Same metrics, same exported weights (bit for bit), same training-loss log, same validations."""
    ma = json.loads(next(a.glob("eval/*/metrics.json")).read_text())
    mb = json.loads(next(b.glob("eval/*/metrics.json")).read_text())
    assert ma["reranked"] == mb["reranked"] and ma["first_stage"] == mb["first_stage"]
    wa, wb = load_file(a / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    log_a = (a / "model" / "README.md").read_text().split("### Training Logs")[1].split("##")[0]
    log_b = (b / "model" / "README.md").read_text().split("### Training Logs")[1].split("##")[0]
    assert log_a == log_b
    assert validations(a) == validations(b) and validations(a)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("resume") / "straight"
    proc = train_py(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def interrupt(out: Path, step: int, during: str = "training", signal: str = "KILL") -> subprocess.CompletedProcess:
    """Run (or resume) into ``out`` and stop it with ``signal`` at ``step``, in training or in the validation
    that follows that step."""
    return train_py(out, "ckpt_path=last", "+callbacks.stop._target_=hooks.SignalAt", f"+callbacks.stop.step={step}",
                    f"+callbacks.stop.during={during}", f"+callbacks.stop.signal={signal}")


@pytest.mark.slow
def test_a_run_stopped_four_ways_and_resumed_each_time_is_exact(uninterrupted: Path, tmp_path: Path) -> None:
    """The quickstart validates every 30 steps and checkpoints every 10 here. One run is stopped four times and
    resumed each time with the same command (``ckpt_path=last``), then ends bit for bit where an uninterrupted run
    of the same seed (another process) ends, with the same validations and losses:

    1. SIGKILL at step 31, just after step 30's validation: last.ckpt was taken after that validation (taken before
       it, the resumed run would skip it and continue from another random state);
    2. SIGTERM (a preemption) at step 45: a checkpoint is saved at the step it stopped;
    3. SIGKILL in the middle of step 60's validation: the run goes back to step 50 and validates at 60;
    4. SIGTERM in the middle of step 90's validation: no checkpoint mid-validation; back to step 80.
    """
    out = tmp_path / "stopped"
    proc = interrupt(out, 31)
    assert proc.returncode == -9 and checkpoint_step(out) == 30  # SIGKILL: no handler ran
    assert not (out / "model").exists() and not list(out.glob("eval/*/metrics.json"))
    proc = interrupt(out, 45, signal="TERM")
    assert proc.returncode == 143 and checkpoint_step(out) in (45, 46)  # saved when stopping, not the periodic one
    assert "interrupted" in (out / "FAILED").read_text()
    proc = interrupt(out, 60, during="validation")
    assert proc.returncode == -9 and checkpoint_step(out) == 50
    proc = interrupt(out, 90, during="validation", signal="TERM")
    assert proc.returncode == 143 and checkpoint_step(out) == 80
    proc = train_py(out, "ckpt_path=last")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming from" in proc.stderr and not (out / "FAILED").exists()
    assert_same_run(uninterrupted, out)
    # the logs continue: the CSV has every step once, run.json knows the resumes
    import pandas as pd

    def steps(run: Path) -> list[int]:
        return pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=["train/loss_step"])["step"].tolist()

    assert steps(out) == steps(uninterrupted)
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "finished" and len(info["resumes"]) == 4
    assert all("ckpt_path=last" in r["command"] for r in info["resumes"])


@pytest.mark.parametrize("mode", ["stop", "skip"])
def test_nonfinite_loss(mode: str, tmp_path: Path, caplog) -> None:
    from crossrank.training.module import TrainingError
    from crossrank.training.run import train

    cfg = compose_cfg("train", [*TINY, "loss._target_=hooks.NaNAt", "+loss.at=23", f"on_nonfinite={mode}",
                                "export=false", "eval=none"], tmp_path)
    if mode == "stop":
        with pytest.raises(TrainingError, match=r"^step 23: the loss is nan; training stopped"):
            train(cfg)
        assert checkpoint_step(tmp_path) == 20  # the last good checkpoint is kept
    else:
        train(cfg)
        assert "step 23: the loss is nan; batch skipped (on_nonfinite=skip)" in caplog.text
        assert checkpoint_step(tmp_path) == 90  # the run went on to the end


def test_checkpoint_and_json_writes_are_atomic_on_a_full_disk(tmp_path: Path) -> None:
    """A write that runs out of space raises one clear error and leaves the previous file whole."""
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(ROOT / 'src')!r})
from crossrank.training.checkpoints import AtomicCheckpointIO
from crossrank.errors import CrossrankError
from crossrank.files import write_json
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
write_json({str(tmp_path / 'm.json')!r}, {{"ok": 1}})
AtomicCheckpointIO().save_checkpoint({{"w": [0] * 10}}, {str(tmp_path / 'last.ckpt')!r})
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
for fn in (lambda: write_json({str(tmp_path / 'm.json')!r}, {{"x": "y" * 100000}}),
           lambda: AtomicCheckpointIO().save_checkpoint({{"w": list(range(100000))}}, {str(tmp_path / 'last.ckpt')!r})):
    try:
        fn()
        print("no error")
    except CrossrankError as e:
        print("error:", e)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") and "cannot write" in line for line in lines), proc
    assert "File too large" in lines[0]
    assert json.loads((tmp_path / "m.json").read_text()) == {"ok": 1}
    assert torch.load(tmp_path / "last.ckpt", weights_only=True) == {"w": [0] * 10}
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_export_killed_midway_leaves_no_model(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from crossrank.models.export import export_model
    from crossrank.models.scorer import CrossEncoderScorer

    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    export_model(scorer, tmp_path / "model")
    before = (tmp_path / "model" / "model.safetensors").read_bytes()

    def dies_after_the_weights(path):
        scorer.model.save_pretrained(path)
        raise KeyboardInterrupt("killed during the export")

    monkeypatch.setattr(scorer, "save_pretrained", dies_after_the_weights)
    with pytest.raises(KeyboardInterrupt):
        export_model(scorer, tmp_path / "model")
    # the complete earlier export is untouched; the half-written one is not where a model is looked for
    assert (tmp_path / "model" / "model.safetensors").read_bytes() == before
    assert (tmp_path / "model" / "tokenizer.json").is_file()


class _RunsCode:
    """Unpickling this calls Path.touch: what a hostile checkpoint could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    from crossrank.errors import CrossrankError
    from crossrank.training.run import train

    marker = tmp_path / "code-ran"
    hostile = tmp_path / "hostile.ckpt"
    torch.save({"global_step": 3, "state_dict": {}, "payload": _RunsCode(marker)}, hostile)
    cfg = compose_cfg("train", [*TINY, f"ckpt_path={hostile}", "eval=none"], tmp_path / "out")
    with pytest.raises(CrossrankError, match=r"hostile.ckpt: not loaded: it holds more than weights"):
        train(cfg)
    assert not marker.exists()


def test_an_export_over_an_earlier_one_always_leaves_a_complete_model(tiny_model_dir: Path, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """Replacing an exported model: a process killed while the old copy is being deleted still leaves a complete
    model at OUT/model (the new one): there is no moment with no model there."""
    import shutil

    from crossrank.models.export import export_model
    from crossrank.models.scorer import CrossEncoderScorer

    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    export_model(scorer, tmp_path / "model", card="old")
    real = shutil.rmtree

    def killed_after_deleting(path, *args, **kwargs):
        held_a_model = (Path(path) / "config.json").is_file()
        real(path, *args, **kwargs)
        if held_a_model:
            raise KeyboardInterrupt(f"killed after deleting {path}")

    monkeypatch.setattr(shutil, "rmtree", killed_after_deleting)
    with pytest.raises(KeyboardInterrupt):
        export_model(scorer, tmp_path / "model", card="new")
    monkeypatch.setattr(shutil, "rmtree", real)
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= files
    assert (tmp_path / "model" / "README.md").read_text() == "new"


def test_outputs_are_written_through_the_one_atomic_helper() -> None:
    """No module renames a temporary output into place by hand: crossrank.files.atomic_path does it (and closes
    the window in which a replaced folder is missing)."""
    import ast

    src = ROOT / "src" / "crossrank"
    found = []
    for path in src.rglob("*.py"):
        if path.name == "files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                    # os.replace / os.rename / shutil.move, or a path's .rename(p) / .replace(p) (one argument:
                    # str.replace takes two)
                    (isinstance(node.func.value, ast.Name) and (node.func.value.id, node.func.attr) in (
                        ("os", "replace"), ("os", "rename"), ("shutil", "move")))
                    or (node.func.attr in ("rename", "replace") and len(node.args) == 1 and not node.keywords)):
                found.append(f"{path.relative_to(src)}:{node.lineno}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    ".tmp" in node.value or ".partial" in node.value):
                found.append(f"{path.relative_to(src)}:{node.lineno}")
    assert not found, found
