"""ListNet (Cao et al., 2007), top-one probabilities: cross-entropy between the softmax of the labels and the
softmax of the scores over each query group."""

from __future__ import annotations

import torch
from torch import nn


class ListNetLoss(nn.Module):
    """``-sum_i softmax(labels)_i * log softmax(logits)_i``, averaged over groups of shape (groups, group_size)."""

    def citation_params(self) -> dict[str, object]:
        """The parameters as sentence-transformers' ``ListNetLoss`` card lists them."""
        return {"activation_fn": "torch.nn.modules.linear.Identity", "mini_batch_size": None}

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        target = torch.softmax(labels.to(logits.dtype), dim=-1)
        return -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
