"""What the entry points share: checks before any heavy import, quiet libraries, and user errors as one
line (on stderr, in the run's log and in a ``FAILED`` file in the run dir) with exit status 2."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from crossrank.errors import CrossrankError
from crossrank.quiet import quiet_environment, quiet_lightning

__all__ = ["FAILED", "fail", "quiet_environment", "quiet_lightning", "run", "user_error"]

#: Written into the run dir when a run fails: the error line; removed when the run is started again.
FAILED = "FAILED"

def output_dir(cfg: DictConfig) -> Path | None:
    """The run dir, when the config can say it (inside a Hydra run)."""
    try:
        return Path(cfg.paths.output_dir)
    except Exception:  # noqa: BLE001 - no Hydra runtime (e.g. a bare compose)
        return None


def fail(message: str, out: Path | None) -> None:
    """Print ``error: message`` on its own line, log it to the run's log file, mark the run dir FAILED."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()  # so the error never lands on the tail of a progress bar
    sys.stdout.flush()
    print(f"error: {message}", file=sys.stderr, flush=True)
    record = logging.LogRecord("crossrank", logging.ERROR, __file__, 0, f"error: {message}", None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    if out is not None and out.is_dir():
        (out / FAILED).write_text(f"error: {message}\n", encoding="utf-8")


def user_error(e: BaseException) -> str | None:
    """The one-line message of an error that is the user's to fix, else None."""
    if isinstance(e, InstantiationException) and isinstance(e.__cause__, CrossrankError):
        e = e.__cause__
    if isinstance(e, CrossrankError):
        return str(e)
    if isinstance(e, MissingMandatoryValue):
        return f"config key {e.full_key} must be set (e.g. {e.full_key}=...)"
    return None


def run(task: str, cfg: DictConfig) -> Any:
    """Check ``cfg`` without heavy imports, then run ``train`` or ``evaluate``; user errors exit 2."""
    out = output_dir(cfg)
    if out is not None:
        (out / FAILED).unlink(missing_ok=True)
    quiet_environment()
    try:
        from crossrank import preflight

        if task == "train":
            preflight.check_train(cfg)
            from crossrank.training import sweep_objective, train

            quiet_lightning()
            results = train(cfg)
            # a Hydra sweeper (Optuna) optimizes what the job returns
            return sweep_objective(out) if cfg.get("optimized_metric") and out is not None else results
        preflight.check_evaluate(cfg)
        from crossrank.evaluation.run import evaluate

        quiet_lightning()
        return evaluate(cfg)
    except BaseException as e:
        message = user_error(e)
        if message is not None:
            fail(message, out)
            sys.exit(2)
        if out is not None and out.is_dir():
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            if isinstance(e, SIGTERMException | KeyboardInterrupt):
                (out / FAILED).write_text("interrupted (SIGTERM or Ctrl-C): checkpoints/last.ckpt was saved; rerun "
                                          "the same command with ckpt_path=last\n", encoding="utf-8")
                print("interrupted: checkpoints/last.ckpt was saved; rerun with ckpt_path=last", file=sys.stderr)
                sys.exit(143 if isinstance(e, SIGTERMException) else 130)  # 128 + the signal, as shells report it
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            (out / FAILED).write_text(f"{type(e).__name__}: {reason}\n", encoding="utf-8")
        raise
