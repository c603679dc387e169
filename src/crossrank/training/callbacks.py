"""Training throughput in the run's history: ``train/samples_per_sec`` and ``train/tokens_per_sec`` (real,
unpadded tokens), each averaged over the steps since the previous log line, validation time excluded."""

from __future__ import annotations

import time
from typing import Any

import lightning as L

from crossrank.data.collate import batch_size, batch_tokens


class ThroughputLogger(L.Callback):
    """Logs pairs/s and tokens/s every ``trainer.log_every_n_steps`` optimizer steps."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._samples = 0
        self._tokens = 0

    def _reset(self) -> None:
        self._start, self._samples, self._tokens = time.perf_counter(), 0, 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reset()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reset()  # validation time is not training time

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._samples += batch_size(batch)
        self._tokens += batch_tokens(batch)
        step = trainer.global_step
        if self._start is None or step % max(1, trainer.log_every_n_steps) != 0:
            return
        if trainer.device_ids and str(pl_module.device).startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        seconds = time.perf_counter() - self._start
        if seconds > 0 and self._samples:
            pl_module.log("train/samples_per_sec", self._samples / seconds, on_step=True, on_epoch=False)
            pl_module.log("train/tokens_per_sec", self._tokens / seconds, on_step=True, on_epoch=False)
        self._reset()
