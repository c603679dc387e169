"""Pointwise distillation: the student's logit regressed onto the teacher's score of the same pair. The loss of
sentence-transformers' MS MARCO knowledge-distillation script that trained the ms-marco-MiniLM v2 cross-encoders
(``torch.nn.MSELoss`` on Hofstätter et al.'s ensemble scores)."""

from __future__ import annotations

import torch
from torch import nn


class MSELoss(nn.Module):
    """Mean squared error between the logits and the teacher's scores, any shape."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(logits, teacher.to(logits.dtype))
