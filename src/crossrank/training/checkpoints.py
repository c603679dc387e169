"""Checkpoints: ``last.ckpt`` (the full training state, to resume; also saved when the run is stopped from
outside), the best weights only when a metric is monitored, atomic writes, and ``ckpt_path=last``."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from crossrank.errors import ConfigError, CrossrankError, first_line
from crossrank.files import atomic_path

log = logging.getLogger(__name__)


def best_checkpoint(dirpath: str, monitor: str | None = None, mode: str = "max",
                    filename: str = "best-epoch{epoch:02d}-step{step}") -> ModelCheckpoint | None:
    """The best weights by ``monitor`` (e.g. ``val/ndcg@10``); None (no callback, no file) without a monitor."""
    if not monitor:
        return None
    return ModelCheckpoint(dirpath=dirpath, filename=filename, monitor=monitor, mode=mode, save_top_k=1,
                           save_last=False, save_weights_only=True, auto_insert_metric_name=False)


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every ``every_n_train_steps`` steps (at each epoch end when that is None), taken *after* the
    validation that follows its step when one does. Lightning's step checkpoint is taken before that validation,
    and a run resumed from it skips the validation: it misses that row, and the random state it continues with is
    not the one the uninterrupted run had after validating (the validation loader draws a seed from it), so every
    later dropout mask differs. Saved after the validation, the checkpoint holds the state the uninterrupted run
    continues from, and Lightning does not validate that step again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._after_validation = False

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        due = self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0
        if due and not self._should_skip_saving_checkpoint(trainer):
            validates = trainer.fit_loop.epoch_loop._should_check_val_fx(trainer.fit_loop._data_fetcher) and bool(
                sum(trainer.num_val_batches or [0]))
            # every rank saves at the same point (saving waits for all of them), so all must validate to defer
            if trainer.strategy.reduce_boolean_decision(validates, all=True):
                self._after_validation = True  # saved by on_validation_end below
                return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self._after_validation and not trainer.sanity_checking:
            self._after_validation = False
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
            return
        super().on_validation_end(trainer, pl_module)


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
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


class SaveOnInterrupt(Callback):
    """Saves ``last.ckpt`` when the run is stopped from outside (SIGTERM, e.g. a preempted job; Ctrl-C), so a
    rerun with ``ckpt_path=last`` continues from there. Not on errors (a failing step must not replace the last
    good checkpoint), and not in the middle of a validation: its rows are not in a checkpoint, so the run
    resumes from the last checkpoint before it and validates again."""

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        if isinstance(exception, SIGTERMException | KeyboardInterrupt) and not trainer.validating:
            trainer.save_checkpoint(self.path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents, loaded as data only (``weights_only``: tensors and plain types): a file that
    would run code when unpickled is refused with one line instead."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as e:
        raise CrossrankError(f"{path}: not loaded: it holds more than weights and plain data (loading it could run "
                             f"code; {first_line(e)})") from None
    except (RuntimeError, EOFError, OSError) as e:
        raise CrossrankError(f"{path}: not a readable checkpoint ({first_line(e)})") from None


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
