"""Checkpoints: ``last.ckpt`` (the full training state, to resume; also saved when the run is stopped from
outside), the best weights only when a metric is monitored, atomic writes, and ``ckpt_path=last``."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from crossrank.errors import ConfigError, CrossrankError

log = logging.getLogger(__name__)


def best_checkpoint(dirpath: str, monitor: str | None = None, mode: str = "max",
                    filename: str = "best-epoch{epoch:02d}-step{step}") -> ModelCheckpoint | None:
    """The best weights by ``monitor`` (e.g. ``val/ndcg@10``); None (no callback, no file) without a monitor."""
    if not monitor:
        return None
    return ModelCheckpoint(dirpath=dirpath, filename=filename, monitor=monitor, mode=mode, save_top_k=1,
                           save_last=False, save_weights_only=True, auto_insert_metric_name=False)


def prune(dirpath: str | Path) -> int:
    """Delete a finished run's checkpoint folder; returns the bytes freed."""
    path = Path(dirpath)
    if not path.is_dir():
        return 0
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    shutil.rmtree(path)
    return size


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints are written under a temporary name and renamed: a crash or a full disk mid-write never
    leaves a truncated ``last.ckpt`` that looks complete (the previous one stays until the new one is whole)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            super().save_checkpoint(checkpoint, tmp, storage_options)
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise CrossrankError(f"{path}: cannot write the checkpoint ({e.strerror or e})") from None


class SaveOnInterrupt(Callback):
    """Saves ``last.ckpt`` when the run is stopped from outside (SIGTERM, e.g. a preempted job; Ctrl-C), so a
    rerun with ``ckpt_path=last`` continues from there. Not on errors: a failing step must not replace the
    last good checkpoint."""

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        if isinstance(exception, SIGTERMException | KeyboardInterrupt):
            trainer.save_checkpoint(self.path)


def resolve(ckpt_path: str | None, out: Path) -> str | None:
    """``ckpt_path``: a file, or ``last`` (``OUT/checkpoints/last.ckpt`` when there is one: the same command
    starts a run and resumes it); None starts from scratch."""
    if not ckpt_path:
        return None
    if ckpt_path == "last":
        path = out / "checkpoints" / "last.ckpt"
        if path.is_file():
            log.info("resuming from %s", path)
            return str(path)
        log.info("ckpt_path=last: no %s yet, starting from scratch", path)
        return None
    if not Path(ckpt_path).is_file():
        raise ConfigError(f"ckpt_path: {ckpt_path} does not exist (ckpt_path=last resumes the run in hydra.run.dir)")
    return ckpt_path
