"""The LightningModule: gradient clipping under mixed precision with fused AdamW, and the loss window."""

from __future__ import annotations

import functools
from pathlib import Path

import datasets
import lightning as L
import torch

from crossrank.data.datamodule import PairDataModule
from crossrank.models.scorer import CrossEncoderScorer
from crossrank.training.losses import BCELoss
from crossrank.training.module import CrossEncoderModule
from crossrank.training.optim import schedule


def _fit(model_dir: Path, precision: str, fused: bool, clip: float, steps: int = 6) -> tuple[list, list]:
    """Train a few steps; the gradient norm before and after clipping, per step."""
    L.seed_everything(0, verbose=False)
    scorer = CrossEncoderScorer.from_pretrained(str(model_dir), max_length=64)
    dm = PairDataModule(pairs={"seed": 0}, tokenizer=scorer.tokenizer, batch_size=4, max_length=64, num_workers=0)
    n = 4 * steps
    dm.train_dataset = datasets.Dataset.from_dict({"query": [f"query {i}" for i in range(n)],
                                                   "passage": [f"passage number {i} " * (1 + i % 4) for i in range(n)],
                                                   "label": [float(i % 2) for i in range(n)]})
    dm.val_dataset = datasets.Dataset.from_dict({c: [] for c in ("qid", "pid", "query", "passage", "first_stage")})
    module = CrossEncoderModule(scorer, BCELoss(), functools.partial(torch.optim.AdamW, lr=1e-3, fused=fused),
                                functools.partial(schedule, name="linear"))
    before, after = [], []

    class Norms(L.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            before.append(float(torch.nn.utils.get_total_norm([p.grad for p in pl_module.parameters()
                                                               if p.grad is not None])))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            after.append(float(torch.nn.utils.get_total_norm([p.grad for p in pl_module.parameters()
                                                              if p.grad is not None])))

    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, gradient_clip_val=clip, precision=precision,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                        log_every_n_steps=2, callbacks=[Norms()])
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == steps
    assert [h["step"] for h in module.loss_history] == [2, 4, 6]
    return before, after


def test_fused_adamw_with_bf16_mixed_and_clipping_trains(tiny_model_dir: Path) -> None:
    """A bug found on an H100: Lightning refused gradient clipping with fused AdamW under bf16-mixed
    (trainer=gpu's defaults) with "AdamW does not allow for gradient clipping"; crossrank clips itself."""
    before, after = _fit(tiny_model_dir, "bf16-mixed", fused=True, clip=0.01)
    assert all(b > 0.01 for b in before)  # clipping had work to do
    assert all(a <= 0.01 * 1.001 for a in after)


def test_clipping_matches_lightning_in_fp32(tiny_model_dir: Path) -> None:
    """Clipping with the norm computed once gives what Lightning's own clipping gives."""
    before, after = _fit(tiny_model_dir, "32-true", fused=False, clip=0.05)
    for b, a in zip(before, after):
        assert abs(a - min(b, 0.05)) < 1e-4 * max(1.0, b)
