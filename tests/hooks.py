"""Test-only pieces that configs can name with ``_target_`` (``PYTHONPATH=tests`` in subprocesses): a callback
that signals its own process at a given step, and a BCE loss that turns NaN at a given call."""

from __future__ import annotations

import os
import signal

import lightning as L
import torch

from crossrank.training.losses import BCELoss


class SignalAt(L.Callback):
    """Sends ``signal`` (KILL, TERM...) to this process once ``global_step`` reaches ``step``: at the end of that
    training batch, or (``during="validation"``) in the middle of the validation that follows it."""

    def __init__(self, step: int, signal: str = "KILL", during: str = "training") -> None:
        self.step = step
        self.signal = signal
        self.during = during

    def _send(self) -> None:
        os.kill(os.getpid(), getattr(signal, f"SIG{self.signal}"))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.during == "training" and trainer.global_step == self.step:
            self._send()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if self.during == "validation" and trainer.global_step == self.step and not trainer.sanity_checking:
            self._send()


class NaNAt(BCELoss):
    """BCE, except that call number ``at`` (0-based) returns NaN."""

    def __init__(self, at: int, pos_weight: float | None = None) -> None:
        super().__init__(pos_weight)
        self.at = at
        self.calls = 0

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = super().forward(logits, labels)
        self.calls += 1
        return loss * float("nan") if self.calls - 1 == self.at else loss


class RecordPairs(L.Callback):
    """Writes ``epoch qid pid`` of every training pair this rank sees to ``DIR/pairs-rank<R>.txt``."""

    def __init__(self, dir: str) -> None:
        self.dir = dir

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        with open(f"{self.dir}/pairs-rank{trainer.global_rank}.txt", "a") as f:
            f.writelines(f"{trainer.current_epoch} {q} {p}\n" for q, p in zip(batch["qid"], batch["pid"]))
