"""Margin-MSE (Hofstätter et al., 2020): distillation on score margins. In each query group the first item is
the positive; the student's margins ``s_0 - s_j`` are regressed onto the teacher's ``t_0 - t_j``."""

from __future__ import annotations

import torch
from torch import nn


class MarginMSELoss(nn.Module):
    """Mean squared error between student and teacher margins of the positive (column 0) over each negative;
    tensors of shape (groups, group_size)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        student = logits[:, :1] - logits[:, 1:]
        target = (teacher[:, :1] - teacher[:, 1:]).to(logits.dtype)
        return nn.functional.mse_loss(student, target)
