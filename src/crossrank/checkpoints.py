"""Checkpoint callbacks: ``last.ckpt`` (full training state, to resume) and, only when a metric is
monitored, the best weights (weights only: they are exported, never resumed from)."""

from __future__ import annotations

import shutil
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint


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
