"""Listwise distillation: KL divergence from the teacher's score distribution over a query group to the
student's (softmax of scores divided by a temperature)."""

from __future__ import annotations

import torch
from torch import nn


class KLDivLoss(nn.Module):
    """``KL(softmax(t / T) || softmax(s / T))`` per group, averaged over groups (shape (groups, group_size)).

    Args:
        temperature: ``T``; scores on different scales (a cosine teacher, a logit student) may need one.
    """

    grouped = True
    needs_teacher = True

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        log_p_student = torch.log_softmax(logits / t, dim=-1)
        log_p_teacher = torch.log_softmax(teacher.to(logits.dtype) / t, dim=-1)
        return nn.functional.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
