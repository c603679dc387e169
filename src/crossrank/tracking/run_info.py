"""What a run was: the command and overrides, git state, versions and machine, start and wall time.

Written to ``OUT/run.json`` when a run starts and completed when it ends; logged as the W&B run config's
``run`` key; read back by ``crossrank.tracking.record``. Light to import (no torch at module level).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crossrank.files import write_json

RUN_FILE = "run.json"


def git_state(root: Path = Path(__file__).parent) -> dict[str, Any]:
    """Commit, branch and whether the work tree had uncommitted changes, of the checkout crossrank runs from
    (empty for an installed copy outside any checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {}


def machine() -> dict[str, Any]:
    """Host, OS, Python, CPU count and the accelerator, as far as the installed libraries can tell."""
    info: dict[str, Any] = {"hostname": socket.gethostname(), "platform": platform.platform(),
                            "python": platform.python_version(), "cpus": os.cpu_count()}
    if "torch" in sys.modules:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def task_overrides() -> list[str]:
    """The command-line overrides of this Hydra job (a multirun job's own values included)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except (ImportError, ValueError):
        return []


def command_line(argv: list[str]) -> str:
    """The command as a user would type it again: ``crossrank train ...`` through the crossrank command (which
    names itself so in ``argv[0]``), else ``python SCRIPT ...``."""
    if argv and argv[0].startswith("crossrank "):
        return shlex.join([*argv[0].split(), *argv[1:]])
    return shlex.join([Path(sys.executable).name, *argv])


def collect() -> dict[str, Any]:
    """Everything about this run that is not its config."""
    from importlib.metadata import version

    return {
        "command": command_line(sys.argv),
        "overrides": task_overrides(),
        "cwd": os.getcwd(),
        "git": git_state(),
        "crossrank_version": version("crossrank"),
        "machine": machine(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "started_unix": time.time(),
    }


def start(out: Path, resumed_from: str | None = None) -> dict[str, Any]:
    """Write ``OUT/run.json`` for a run that starts now (or resumes: then its first start, command and W&B run
    are kept and the resume is added to ``resumes``); returns its content."""
    info = collect()
    previous = read(out) if resumed_from else {}
    if previous:
        resumes = [*previous.get("resumes", []), {"at": info["started"], "from": resumed_from,
                                                   "command": info["command"]}]
        info = {**previous, "resumes": resumes, "machine": info["machine"], "git": info["git"],
                "segment_unix": info["started_unix"]}
    else:
        info["segment_unix"] = info["started_unix"]
    info["status"] = "running"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RUN_FILE, info)
    return info


def read(out: Path) -> dict[str, Any]:
    """``OUT/run.json`` ({} when the run has none)."""
    path = out / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def finish(out: Path, status: str, **extra: Any) -> dict[str, Any]:
    """Complete ``OUT/run.json``: status, end time, wall seconds and anything in ``extra`` (e.g. the W&B run)."""
    path = out / RUN_FILE
    info = read(out) or collect()
    now = time.time()
    # wall_seconds: the time this run computed (segments that a SIGKILL cut short are not known and not counted);
    # elapsed_seconds: from the first start to now, downtime included
    segment = now - info.get("segment_unix", info.get("started_unix", now))
    info.update(status=status, ended=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                wall_seconds=round(info.get("wall_seconds", 0.0) * bool(info.get("resumes")) + segment, 1),
                elapsed_seconds=round(now - info.get("started_unix", now), 1), **extra)
    info["machine"] = machine()  # torch is imported by now: the accelerator is known
    write_json(path, info)
    return info


def objective_value(out: Path) -> float:
    """What ``train.py`` returns to a Hydra sweeper (Optuna): ``run.json``'s objective value."""
    from crossrank.errors import ConfigError

    objective = read(out).get("objective") or {}
    if objective.get("value") is None:
        raise ConfigError(f"optimized_metric: {objective.get('metric')!r} has no value in this run (was it logged?)")
    return float(objective["value"])
