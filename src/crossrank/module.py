"""The LightningModule: batches in, loss out; optimizer and schedule from config; logging; validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from crossrank.scorer import CrossEncoderScorer


class CrossEncoderModule(L.LightningModule):
    """Trains a :class:`CrossEncoderScorer` with a pointwise loss.

    Args:
        scorer: the cross-encoder.
        loss: ``(logits, labels) -> scalar`` (e.g. :class:`crossrank.losses.BCELoss`).
        optimizer: ``params -> Optimizer`` (a Hydra ``_partial_``).
        scheduler: ``(optimizer, num_training_steps) -> LRScheduler`` (a ``_partial_``) or None; stepped
            every optimizer step.
        val_relevance_level: binary validation metrics count relevance >= this as relevant.
    """

    def __init__(self, scorer: CrossEncoderScorer, loss: nn.Module, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., Any] | None = None, val_relevance_level: int = 1) -> None:
        super().__init__()
        self.scorer = scorer
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.val_relevance_level = val_relevance_level
        self.loss_history: list[dict[str, float]] = []  # (epoch, step, mean loss) per logging interval
        self._loss_sum, self._loss_count = 0.0, 0
        self._val_rows: list[tuple[str, str, float, float]] = []
        self.val_qrels: dict[str, dict[str, int]] = {}
        self.val_history: list[dict[str, float]] = []  # {"step", "epoch", "val/ndcg@10", ...} per validation
        self.flops_per_batch = None  # read by Lightning's ThroughputMonitor; FLOPs are not counted

    def forward(self, encoding: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.scorer(encoding)

    # -- training -----------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        # from_pretrained leaves HF models in eval mode and Lightning keeps modes as it finds them:
        # switch dropout on for training.
        self.scorer.train()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        logits = self.scorer(batch["encoding"])
        loss = self.loss(logits, batch["labels"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits))
        self._loss_sum += float(loss.detach())
        self._loss_count += 1
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Log the learning rate of this step and the gradient norm before clipping (when logs are due)."""
        if not self.trainer._logger_connector.should_update_logs:
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if grads:
            norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0)
            self.log("train/grad_norm", norm, on_step=True, on_epoch=False)
        self.log("train/lr", float(optimizer.param_groups[0]["lr"]), on_step=True, on_epoch=False)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        step = self.global_step
        if step and step % max(1, self.trainer.log_every_n_steps) == 0 and self._loss_count:
            total = max(1, self.trainer.num_training_batches)
            self.loss_history.append({"epoch": round(self.current_epoch + (batch_idx + 1) / total, 4),
                                      "step": step, "loss": round(self._loss_sum / self._loss_count, 4)})
            self._loss_sum, self._loss_count = 0.0, 0

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer, num_training_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["crossrank_loss_history"] = self.loss_history
        checkpoint["crossrank_val_history"] = self.val_history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.loss_history = list(checkpoint.get("crossrank_loss_history", []))
        self.val_history = list(checkpoint.get("crossrank_val_history", []))

    # -- validation: rerank held-out queries --------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_rows = []
        datamodule = getattr(self.trainer, "datamodule", None)
        self.val_qrels = getattr(datamodule, "val_qrels", {}) or {}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        scores = self.scorer(batch["encoding"]).float().cpu().tolist()
        first = batch.get("first_stage") or [0.0] * len(scores)
        self._val_rows.extend(zip(batch["qid"], batch["pid"], scores, first))

    def on_validation_epoch_end(self) -> None:
        rows = self._val_rows
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, rows)
            rows = [r for part in gathered for r in part]
        if not rows or not self.val_qrels:
            return
        from crossrank.evaluation.metrics import validation_metrics  # ranx: only where there is validation

        # reranker scores (column 2), and the first stage on the same candidates (column 3): the bar to clear
        record: dict[str, float] = {"step": self.global_step, "epoch": self.current_epoch}
        for prefix, column in (("val", 2), ("val/first_stage", 3)):
            scored = [(r[0], r[1], r[column]) for r in rows]
            for name, value in validation_metrics(self.val_qrels, scored, self.val_relevance_level).items():
                self.log(f"{prefix}/{name}", value, prog_bar=prefix == "val" and name == "ndcg@10", sync_dist=False)
                record[f"{prefix}/{name}"] = value
        if not self.trainer.sanity_checking:
            self.val_history.append(record)
        self._val_rows = []
