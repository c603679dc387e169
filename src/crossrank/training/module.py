"""The LightningModule: batches in, loss out; optimizer and schedule from config; logging; validation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from crossrank.errors import ConfigError, CrossrankError
from crossrank.models.scorer import CrossEncoderScorer
from crossrank.training.losses.registry import check_batches, loss_info

log = logging.getLogger(__name__)

_SUM_DTYPE = {"mps": torch.float32}  # the loss window is summed in float64 where the device has it


class TrainingError(CrossrankError):
    """Training cannot go on (e.g. a non-finite loss); the message names the step."""


def capture_rng() -> dict[str, Any]:
    """Python's, NumPy's and torch's random states (dropout draws from torch's)."""
    import random

    import numpy as np

    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    # plain types and tensors only: Lightning loads checkpoints with torch.load(weights_only=True)
    state: dict[str, Any] = {"python": random.getstate(),
                             "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss,
                                       cached],
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import random

    import numpy as np

    random.setstate(tuple(state["python"][:1]) + (tuple(state["python"][1]),) + tuple(state["python"][2:]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CrossEncoderModule(L.LightningModule):
    """Trains a :class:`CrossEncoderScorer` with a pointwise loss.

    Args:
        scorer: the cross-encoder.
        loss: ``(logits, labels) -> scalar`` (e.g. :class:`crossrank.training.losses.BCELoss`).
        optimizer: ``params -> Optimizer`` (a Hydra ``_partial_``).
        scheduler: ``(optimizer, num_training_steps) -> LRScheduler`` (a ``_partial_``) or None; stepped
            every optimizer step.
        val_relevance_level: binary validation metrics count relevance >= this as relevant.
        on_nonfinite: a NaN or infinite loss or gradient ``stop``s the run with an error naming the step (the
            last checkpoint, from before it, is kept), or ``skip``s the batch (no update) with a warning.
    """

    def __init__(self, scorer: CrossEncoderScorer, loss: nn.Module, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., Any] | None = None, val_relevance_level: int = 1,
                 on_nonfinite: str = "stop") -> None:
        super().__init__()
        self.scorer = scorer
        self.loss = loss
        self.loss_info = loss_info(loss)  # what its batches must hold (crossrank.training.losses.registry)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.val_relevance_level = val_relevance_level
        self.loss_history: list[dict[str, float]] = []  # (epoch, step, mean loss) per logging interval
        self._loss_sum, self._loss_count = 0.0, 0
        self._val_rows: list[tuple[str, str, float, float]] = []
        self.last_val_rows: list[tuple[str, str, float, float]] = []
        self._step_loss: torch.Tensor | None = None  # this step's loss, checked with the gradient norm
        self._grad_norm: torch.Tensor | None = None  # this step's gradient norm, reused for clipping
        self.val_qrels: dict[str, dict[str, int]] = {}
        self.val_history: list[dict[str, float]] = []  # {"step", "epoch", "val/ndcg@10", ...} per validation
        if on_nonfinite not in ("stop", "skip"):
            raise ConfigError(f"on_nonfinite: {on_nonfinite!r} (expected stop or skip)")
        self.on_nonfinite = on_nonfinite
        self.skipped_steps: list[int] = []
        self._rng_to_restore: dict[str, Any] | None = None
        self.flops_per_batch = None  # read by Lightning's ThroughputMonitor; FLOPs are not counted

    def forward(self, encoding: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.scorer(encoding)

    # -- training -----------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        # from_pretrained leaves HF models in eval mode and Lightning keeps modes as it finds them:
        # switch dropout on for training.
        self.scorer.train()

    def on_train_start(self) -> None:
        # Resuming mid-epoch: Lightning restores the training DataLoader's position only when it builds the loader
        # after reading the checkpoint, but estimated_stepping_batches (configure_optimizers) built it, and the
        # iterator over it, before; the saved position would be dropped and the epoch would restart in a new
        # order. Apply it here and start the iterator again, before the first batch is drawn
        # (tests/test_resume.py checks a resumed run against an uninterrupted one, bit for bit).
        loop = self.trainer.fit_loop
        states = getattr(loop, "_combined_loader_states_to_load", None)
        mid_epoch = bool(getattr(loop, "restarted_mid_epoch", False))  # at an epoch's end the next starts afresh
        if states and getattr(loop, "_combined_loader", None) is not None and loop._data_fetcher is not None:
            if mid_epoch:
                loop._combined_loader._load_state_dicts(states)
                iter(loop._data_fetcher)
            loop._combined_loader_states_to_load = []

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._rng_to_restore is not None:  # resumed: the random state the interrupted run had at this point
            restore_rng(self._rng_to_restore)
            self._rng_to_restore = None

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        logits = self.scorer(batch["encoding"])
        loss = self.compute_loss(logits, batch)
        # no host-device sync here: a GPU runs ahead of Python. The loss is checked with the gradient norm, in
        # one sync before the optimizer step, and the loss window is summed on the device.
        self._step_loss = loss.detach()
        finite = torch.isfinite(self._step_loss)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits))
        kept = torch.where(finite, self._step_loss, 0.0).to(_SUM_DTYPE.get(loss.device.type, torch.float64))
        self._loss_sum = self._loss_sum + kept
        self._loss_count = self._loss_count + finite.long()
        self._log_loss_window(batch_idx)
        return loss

    def compute_loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """The loss of a batch: pointwise over all pairs, or over (groups, group_size) for grouped losses
        (with the teacher's scores for distillation). Always in float32, outside autocast: under bf16-mixed the
        logits arrive in bf16 (8 bits of mantissa), and a loss computed there would round the teacher's margins
        and the log-sum-exps of the listwise losses; sentence-transformers computes its losses in float32 too."""
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return self._loss(logits.float(), batch["labels"].float(),
                              batch["teacher"].float() if batch.get("teacher") is not None else None,
                              batch.get("group_size"))

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None,
              size: int | None) -> torch.Tensor:
        info = self.loss_info
        if info is None or not info.groups:
            return self.loss(logits, labels, teacher) if info is not None and info.teacher else \
                self.loss(logits, labels)
        check_batches(info, len(logits), size, teacher is not None)
        logits, labels = logits.view(-1, size), labels.view(-1, size)
        if not info.teacher or teacher is None:
            return self.loss(logits, labels)
        return self.loss(logits, labels, teacher.view(-1, size))

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Check the loss and gradients (one sync), log the learning rate of this step and the gradient norm
        before clipping (when logs are due), and keep that norm for clipping."""
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0) if grads else None
        self._grad_norm = norm
        loss = self._step_loss
        checks = [t.float().reshape(1) for t in (loss, norm) if t is not None]
        if checks and not bool(torch.isfinite(torch.cat(checks)).all()):
            what = (f"the loss is {float(loss)}" if loss is not None and not torch.isfinite(loss)
                    else f"the gradient norm is {float(norm) if norm is not None else 'missing'}")
            self._nonfinite(what)
            for p in self.parameters():  # skip: AdamW leaves parameters without a gradient untouched
                p.grad = None
            self._grad_norm = None
            return
        if not self.trainer._logger_connector.should_update_logs:
            return
        if norm is not None:
            self.log("train/grad_norm", norm, on_step=True, on_epoch=False)
        self.log("train/lr", float(optimizer.param_groups[0]["lr"]), on_step=True, on_epoch=False)

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Clip by the norm :meth:`on_before_optimizer_step` computed (not a second pass over the gradients).

        Lightning's own clipping refuses fused AdamW under mixed precision (it cannot tell bf16, which has no
        gradient scaler, from fp16); without a scaler the gradients are already unscaled, so clipping them here
        is exact. With fp16's scaler Lightning's path is kept."""
        norm = self._grad_norm
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if gradient_clip_val and norm is None and scaler is None:
            return  # no gradients (a skipped batch)
        if not gradient_clip_val or scaler is not None or norm is None or (gradient_clip_algorithm or "norm") != "norm":
            return super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grads_with_norm_(params, float(gradient_clip_val), norm)

    def _nonfinite(self, what: str) -> None:
        """Stop with an error naming the step, or skip the batch (``on_nonfinite``)."""
        step = self.global_step
        if self.on_nonfinite == "stop":
            raise TrainingError(f"step {step}: {what}; training stopped (checkpoints written before this step "
                                "are kept; on_nonfinite=skip skips such batches instead)")
        log.warning("step %d: %s; batch skipped (on_nonfinite=skip)", step, what)
        self.skipped_steps.append(step)
        return None

    def _log_loss_window(self, batch_idx: int) -> None:
        """The mean loss of every ``log_every_n_steps`` steps, for the model card. Recorded in training_step
        (before any callback of this batch), so a checkpoint saved at the end of the batch holds it."""
        step = self.global_step + 1  # the step this batch completes
        if step % max(1, self.trainer.log_every_n_steps) == 0:
            count = int(self._loss_count)
            if count:
                total = max(1, self.trainer.num_training_batches)
                self.loss_history.append({"epoch": round(self.current_epoch + (batch_idx + 1) / total, 4),
                                          "step": step, "loss": round(float(self._loss_sum) / count, 4)})
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
        checkpoint["crossrank_loss_window"] = [float(self._loss_sum), int(self._loss_count)]
        checkpoint["crossrank_rng"] = capture_rng()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.loss_history = list(checkpoint.get("crossrank_loss_history", []))
        self.val_history = list(checkpoint.get("crossrank_val_history", []))
        self._loss_sum, self._loss_count = checkpoint.get("crossrank_loss_window", [0.0, 0])
        self._rng_to_restore = checkpoint.get("crossrank_rng")

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
        self.last_val_rows = rows  # for eval.interpolate: val
        from crossrank.evaluation.metrics import validation_metrics  # ranx: only where there is validation

        # reranker scores (column 2), and the first stage on the same candidates (column 3): the bar to clear
        record: dict[str, float] = {"step": self.global_step, "epoch": self.current_epoch}
        for prefix, column in (("val", 2), ("val/first_stage", 3)):
            scored = [(r[0], r[1], float(r[column])) for r in rows]
            for name, value in validation_metrics(self.val_qrels, scored, self.val_relevance_level).items():
                self.log(f"{prefix}/{name}", value, prog_bar=prefix == "val" and name == "ndcg@10", sync_dist=False)
                record[f"{prefix}/{name}"] = value
        if not self.trainer.sanity_checking:
            self.val_history.append(record)
        self._val_rows = []
