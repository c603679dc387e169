"""Learning-rate schedules built once the number of optimizer steps is known."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_steps_for(num_training_steps: int, warmup_steps: int = 0, warmup_ratio: float = 0.0) -> int:
    """``warmup_steps`` if set, else ``ceil(warmup_ratio * num_training_steps)`` (as HF Trainer does)."""
    return warmup_steps if warmup_steps > 0 else math.ceil(warmup_ratio * num_training_steps)


def linear_schedule(optimizer: Optimizer, num_training_steps: int, warmup_steps: int = 0,
                    warmup_ratio: float = 0.0) -> LambdaLR:
    """Linear warmup from 0, then linear decay to 0 at ``num_training_steps`` (HF's ``linear``)."""
    warmup = warmup_steps_for(num_training_steps, warmup_steps, warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (num_training_steps - step) / max(1, num_training_steps - warmup))

    return LambdaLR(optimizer, factor)


def constant_schedule(optimizer: Optimizer, num_training_steps: int, warmup_steps: int = 0,
                      warmup_ratio: float = 0.0) -> LambdaLR:
    """Linear warmup, then a constant learning rate."""
    warmup = warmup_steps_for(num_training_steps, warmup_steps, warmup_ratio)
    return LambdaLR(optimizer, lambda step: min(1.0, step / max(1, warmup)) if warmup else 1.0)
