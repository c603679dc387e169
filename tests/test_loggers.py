"""W&B as crossrank runs it, read back from the offline run files: one run per job of a multirun, what a
run's config, history, summary and artifacts hold, and runs that never fail because W&B is unreachable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_train_py, tiny_train_args
from wandb_files import offline_runs, read_run_file


def test_each_job_of_a_multirun_is_its_own_wandb_run(multirun: Path) -> None:
    """two jobs, two W&B runs, each with its own config and a history that starts at its step 0,
    grouped by the multirun."""
    files = [read_run_file(p) for job in ("0", "1") for p in offline_runs(multirun / job)]
    assert len(files) == 2 and files[0].run["id"] != files[1].run["id"]
    assert [f.config["optimizer"]["lr"] for f in files] == [1e-4, 2e-4]
    names = [f.run["name"] for f in files]  # the experiment's overrides, each job's own value last
    assert names[0].startswith("model=tiny data=local") and names[0].endswith("optimizer.lr=0.0001")
    assert names[1].endswith("optimizer.lr=0.0002")
    group = files[0].run["group"]
    assert group and group == files[1].run["group"] and multirun.name in group
    for f in files:
        steps = [h["trainer/global_step"] for h in f.history if "train/loss_step" in h]
        assert steps == sorted(steps) and steps[0] == 0 and f.exit_code == 0


def test_what_a_wandb_run_holds(multirun: Path) -> None:
    """the resolved config plus command, git, version and machine; loss, lr, gradient norm,
    throughput and validation in the history; the evaluation of both runs in the summary; the per-query
    table; the evaluation files and the exported model as artifacts."""
    f = read_run_file(offline_runs(multirun / "0")[0])
    info = f.config["run"]
    assert "train.py" in info["command"] and "optimizer.lr=0.0001" in info["overrides"]
    assert info["crossrank_version"] and info["machine"]["hostname"] and "commit" in info["git"]
    keys = set().union(*f.history)
    for key in ("train/loss_step", "train/lr", "train/grad_norm", "train/samples_per_sec", "val/ndcg@10",
                "val/first_stage/ndcg@10"):
        assert key in keys, key
    for run_name in ("first_stage", "reranked"):
        assert isinstance(f.summary[f"eval/data/{run_name}/ndcg@10"], float)
    assert f.summary["eval/data/per_query/_type"] == "table-file"
    assert {a["type"] for a in f.artifacts} >= {"evaluation", "model"}
    record = json.loads((multirun / "0" / "run.json").read_text())
    assert record["wandb"]["id"] == f.run["id"] and record["status"] == "finished"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["no_key", "unreachable"])
def test_wandb_never_fails_a_run(case: str, irdata_dir: Path, tmp_path: Path) -> None:
    """no key and no WANDB_MODE -> offline; a key with an unreachable W&B server -> one warning, an
    offline run, and the run finishes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path)  # no ~/.netrc login
    if case == "unreachable":
        env.update(WANDB_API_KEY="x" * 40, WANDB_BASE_URL="http://127.0.0.1:9")
    out = tmp_path / "out"
    proc = run_train_py([*tiny_train_args(irdata_dir, "eval=none", "logger.wandb.init_timeout=2"),
                         f"hydra.run.dir={out}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "run.json").read_text())["wandb"]["mode"] == "offline"
    assert len(offline_runs(out)) == 1 and read_run_file(offline_runs(out)[0]).exit_code == 0
    warned = [line for line in proc.stderr.splitlines() if "could not start an online run" in line]
    assert len(warned) == (1 if case == "unreachable" else 0)
