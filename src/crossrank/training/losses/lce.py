"""Localized Contrastive Estimation (Gao, Dai and Callan, ECIR 2021, "Rethink Training of BERT Rerankers in
Multi-Stage Retrieval Pipeline"): softmax cross-entropy of each query group's positive against its negatives."""

from __future__ import annotations

import torch
from torch import nn

from crossrank.errors import CrossrankError


class LCELoss(nn.Module):
    """``-sum_i (y_i / sum_j y_j) * log softmax(logits)_i`` per group, averaged over groups of shape
    (groups, group_size): with one positive (``data.group_size``'s 1 + k), ``-log softmax(logits)_positive``;
    several positives share the target equally. A group without a positive label is an error."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        target = labels.to(logits.dtype).clamp(min=0)
        total = target.sum(dim=-1, keepdim=True)
        if bool((total <= 0).any()):
            raise CrossrankError("loss=lce: a query group has no positive label (every group needs 1 positive)")
        return -((target / total) * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
