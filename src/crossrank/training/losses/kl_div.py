"""Listwise distillation: KL divergence from the teacher's score distribution over a query group to the
student's. The temperature sharpens (or flattens) the teacher's distribution only: a teacher on another scale
(cosines in [-1, 1]) gets a target as peaked as needed, and the student's logits keep their own scale."""

from __future__ import annotations

import torch
from torch import nn


class KLDivLoss(nn.Module):
    """``KL(softmax(t / T) || softmax(s))`` per group, averaged over groups (shape (groups, group_size)).

    Args:
        temperature: ``T`` for the teacher's scores (e.g. 0.05 for cosine similarities).
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        log_p_student = torch.log_softmax(logits, dim=-1)
        log_p_teacher = torch.log_softmax(teacher.to(logits.dtype) / self.temperature, dim=-1)
        return nn.functional.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
