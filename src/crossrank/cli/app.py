"""What ``train.py`` and ``evaluate.py`` run inside Hydra: the checks that need no heavy import first (a bad path or
key fails in about a second), then a training run, a cross-validation or an evaluation; a user error ends the run
with one line and exit status 2 (:mod:`crossrank.cli.errors`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from crossrank.cli.errors import FAILED, fail, release, user_error
from crossrank.cli.quiet import quiet_environment, quiet_lightning


def output_dir(cfg: DictConfig) -> Path | None:
    """The run dir, when the config can say it (inside a Hydra run)."""
    try:
        return Path(cfg.paths.output_dir)
    except Exception:  # noqa: BLE001 - no Hydra runtime (e.g. a bare compose)
        return None


def run(task: str, cfg: DictConfig) -> Any:
    """Check ``cfg`` without heavy imports, then ``train`` or ``evaluate``; user errors exit 2."""
    release()
    out = output_dir(cfg)
    if out is not None:
        (out / FAILED).unlink(missing_ok=True)
    quiet_environment()
    try:
        return train(cfg, out) if task == "train" else evaluate(cfg)
    except BaseException as e:
        stop(e, out)
        raise


def train(cfg: DictConfig, out: Path | None) -> Any:
    """One training run, or a k-fold cross-validation (``cv.folds``); a Hydra sweeper (Optuna) gets the value of
    ``optimized_metric`` back."""
    from crossrank.cli import preflight

    preflight.check_train(cfg)
    from crossrank.tracking.run_info import objective_value
    from crossrank.training.cv import cross_validate
    from crossrank.training.run import train as train_run

    quiet_lightning()  # after Lightning's import, which gives its loggers their own handler
    if (cfg.get("cv") or {}).get("folds"):
        return cross_validate(cfg)
    results = train_run(cfg)
    return objective_value(out) if cfg.get("optimized_metric") and out is not None else results


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """``evaluate.py``: the configured sets, their results in the configured loggers."""
    import hydra

    from crossrank.cli import preflight

    preflight.check_evaluate(cfg)
    from crossrank.evaluation.run import evaluate as evaluate_sets
    from crossrank.tracking.loggers import close_loggers, log_evaluation

    quiet_lightning()  # after Lightning's import, which gives its loggers their own handler
    results = evaluate_sets(cfg)
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    out = Path(cfg.paths.output_dir)
    for name, result in results.items():
        log_evaluation(loggers, name, result, str(out / "eval" / name / "per_query.tsv"))
    close_loggers(loggers, ok=True)
    return results


def stop(e: BaseException, out: Path | None) -> None:
    """A user error: one line and exit 2. An interruption (SIGTERM, Ctrl-C): say how to resume, exit 128 + the
    signal. Anything else: its first line in ``OUT/FAILED``, and the traceback as Python prints it."""
    message = user_error(e)
    if message is not None:
        fail(message, out)
        sys.exit(2)
    if out is None or not out.is_dir():
        return
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    if isinstance(e, SIGTERMException | KeyboardInterrupt):
        (out / FAILED).write_text("interrupted (SIGTERM or Ctrl-C): checkpoints/last.ckpt was saved; rerun the same "
                                  "command with ckpt_path=last\n", encoding="utf-8")
        print("interrupted: checkpoints/last.ckpt was saved; rerun with ckpt_path=last", file=sys.stderr)
        sys.exit(143 if isinstance(e, SIGTERMException) else 130)  # 128 + the signal, as shells report it
    reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
    (out / FAILED).write_text(f"{type(e).__name__}: {reason}\n", encoding="utf-8")
