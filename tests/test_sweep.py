"""W&B sweep files: every parameter is a config key of its experiment, the metric is one the run logs, and
the command that ``wandb agent`` builds (wandb's own code) trains and logs that metric."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from wandb_files import offline_runs, read_run_file

from crossrank.cli import sweep
from crossrank.cli.main import main as crossrank
from crossrank.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "conf" / "sweep").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_parameter_composes_with_its_experiment(path: Path) -> None:
    spec = sweep.load(path)
    lines = sweep.check(path, ROOT / "conf")
    assert len([line for line in lines if line.startswith("parameter ")]) == len(spec["parameters"])
    assert spec["metric"]["name"].startswith("val/")  # sweeps select on held-out validation queries only
    assert any(f"+experiment={path.stem}" in o for o in sweep.fixed_overrides(spec))


@pytest.mark.parametrize(("edit", "message"), [
    (("parameters", {"optimizer.lrr": {"values": [1]}}), "sweep parameter 'optimizer.lrr' is not a config key"),
    (("metric", {"name": "val/ndgc@10", "goal": "maximize"}), "metric.name: 'val/ndgc@10' is not logged"),
    (("command", ["${env}", "${interpreter}", "${program}", "+experiment=quickstart"]), "${args_no_hyphens}"),
])
def test_bad_sweep_files_fail_in_one_line(edit, message: str, tmp_path: Path, capsys) -> None:
    import yaml

    spec = yaml.safe_load((ROOT / "conf" / "sweep" / "quickstart.yaml").read_text())
    spec[edit[0]] = edit[1]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("{", r"\{").replace("}", r"\}")):
        sweep.check(path, ROOT / "conf")
    assert crossrank(["sweep", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert crossrank(["sweep", "check", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: no such sweep file" in capsys.readouterr().err


@pytest.mark.slow
def test_wandb_agent_command_trains_and_logs_the_metric(tmp_path: Path, monkeypatch) -> None:
    """The command line comes from wandb's agent itself (``Agent._command_run``), as a sweep would run it."""
    from wandb.wandb_agent import Agent

    spec = sweep.load(ROOT / "conf" / "sweep" / "quickstart.yaml")
    out = tmp_path / "run"
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    args = {name: {"value": sweep.sample_value(p)} for name, p in spec["parameters"].items()}
    # what the test adds to the sweep's parameters: the tiny model, a run dir, no progress bars
    args.update({"model": {"value": "tiny"}, "hydra.run.dir": {"value": str(out)}, "progress": {"value": False}})
    saved = dict(os.environ)
    try:
        agent = Agent(api=None, queue=None)
        agent._sweep_command = list(spec["command"])
        agent._command_run({"args": args, "program": spec["program"], "run_id": "sweeptest"})
        code = agent._run_processes["sweeptest"].wait(timeout=600)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert code == 0
    runs = offline_runs(out)
    assert len(runs) == 1
    record = read_run_file(runs[0])
    assert record.run["id"] == "sweeptest"
    metric = spec["metric"]["name"]
    assert len([h for h in record.history if metric in h]) >= 2  # validated during training: Hyperband can act
    assert record.config["optimizer"]["lr"] == pytest.approx(args["optimizer.lr"]["value"])
