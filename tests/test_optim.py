"""The schedules are transformers' own; crossrank adds the warmup ratio."""

from __future__ import annotations

import torch

from crossrank.training.optim import schedule


def test_linear_decay_without_warmup_reaches_zero() -> None:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch = schedule(opt, num_training_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    assert lrs[0] == 1.0 and abs(lrs[5] - 0.5) < 1e-9 and opt.param_groups[0]["lr"] == 0.0


def test_warmup_ratio() -> None:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch = schedule(opt, num_training_steps=10, warmup_ratio=0.2)
    assert opt.param_groups[0]["lr"] == 0.0
    opt.step()
    sch.step()
    assert abs(opt.param_groups[0]["lr"] - 0.5) < 1e-9
