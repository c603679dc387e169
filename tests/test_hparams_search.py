"""Offline sweeps: Optuna (hydra-optuna-sweeper) with its study in SQLite in the sweep dir, continued by a
rerun; multiruns through submitit's local executor (the SLURM launcher's twin); bad optimized metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import compose_cfg

from crossrank.cli.preflight import check_train
from crossrank.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["+experiment=quickstart", "model=tiny", "logger=csv", "progress=false"]


def train_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_optuna_study_in_sqlite_continues(tmp_path: Path) -> None:
    """A trial maximizes what its run logged as val/ndcg@10; a rerun into the same sweep dir adds a trial to the
    same study."""
    import optuna

    sweep = tmp_path / "optuna"
    # one validation per trial (at step 30, the objective) and no test-set evaluation: the study is under test
    args = ["-m", *TINY, "hparams_search=quickstart_optuna", "trainer.max_steps=30", "eval=none",
            f"hydra.sweep.dir={sweep}"]
    proc = train_py(*args, "hydra.sweeper.n_trials=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="quickstart_optuna", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    runs = sorted(p for p in sweep.iterdir() if (p / "run.json").is_file())
    objectives = [json.loads((p / "run.json").read_text())["objective"] for p in runs]
    assert all(o["metric"] == "val/ndcg@10" for o in objectives)
    assert sorted(t.value for t in study.trials) == pytest.approx(sorted(o["value"] for o in objectives))
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(o["value"] for o in objectives))

    proc = train_py(*args, "hydra.sweeper.n_trials=1")  # an interrupted sweep, continued
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="quickstart_optuna", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert len(study.trials) == 2 and len([p for p in sweep.iterdir() if (p / "run.json").is_file()]) == 2


@pytest.mark.slow
def test_submitit_local_launcher_runs_each_trial_as_a_job(tmp_path: Path) -> None:
    """hydra/launcher=submitit_local (the SLURM launcher's local twin) runs a 2-trial multirun."""
    sweep = tmp_path / "submitit"
    proc = train_py("-m", *TINY, "hydra/launcher=submitit_local", "optimizer.lr=1e-4,2e-4", "trainer.max_steps=20",
                    "eval=none", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        info = json.loads((sweep / job / "run.json").read_text())
        assert info["status"] == "finished" and f"optimizer.lr={('0.0001', '0.0002')[int(job)]}" in info["overrides"]
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 2  # each trial ran as a submitit job


def test_slurm_launcher_config_composes(tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", ["+experiment=bce_baseline", "hparams_search=bce_baseline_optuna",
                                "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.nodes=2",
                                "trainer=ddp", "trainer.num_nodes=2"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu" and launcher.nodes == 2
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.num_nodes == 2
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.optimized_metric == "val/ndcg@10"


def test_an_optimized_metric_that_is_not_logged_fails_early(tmp_path: Path) -> None:
    cfg = compose_cfg("train", [*TINY, "optimized_metric=val/ndgc@10"], tmp_path)
    with pytest.raises(ConfigError, match=r"optimized_metric: 'val/ndgc@10' is not logged by this run \(it logs val/"):
        check_train(cfg)
    check_train(compose_cfg("train", [*TINY, "optimized_metric=eval/synthetic-test/reranked/ndcg@10"], tmp_path))


def test_a_trial_shorter_than_the_validation_interval_still_has_an_objective(tmp_path: Path) -> None:
    """max_steps below val_check_interval: the run validates once at its end, so the sweep's objective (the
    best validation) has a value instead of failing after the whole trial."""
    from crossrank.cli.app import run

    cfg = compose_cfg("train", [*TINY, "optimized_metric=val/ndcg@10", "trainer.max_steps=5",
                                "trainer.val_check_interval=30", "eval=none", "export=false"], tmp_path)
    value = run("train", cfg)
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["objective"] == {"metric": "val/ndcg@10", "value": value} and 0.0 <= value <= 1.0
