"""Learning-rate schedules from ``transformers`` (``get_scheduler``), built once the number of optimizer
steps is known; warmup as a number of steps or as a ratio of all steps (as the HF Trainer counts it)."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def warmup_steps_for(num_training_steps: int, warmup_steps: int = 0, warmup_ratio: float = 0.0) -> int:
    """``warmup_steps`` if set, else ``ceil(warmup_ratio * num_training_steps)`` (as HF Trainer does)."""
    return warmup_steps if warmup_steps > 0 else math.ceil(warmup_ratio * num_training_steps)


def schedule(optimizer: Optimizer, num_training_steps: int, name: str = "linear", warmup_steps: int = 0,
             warmup_ratio: float = 0.0) -> LRScheduler:
    """``transformers.get_scheduler(name, ...)``: ``linear`` (warmup, then linear decay to 0),
    ``constant_with_warmup``, ``cosine``... stepped every optimizer step."""
    from transformers import get_scheduler

    return get_scheduler(name, optimizer, num_warmup_steps=warmup_steps_for(num_training_steps, warmup_steps,
                                                                            warmup_ratio),
                         num_training_steps=num_training_steps)
