"""LambdaLoss (Wang et al., 2018) with LambdaRank's NDCG weighting: RankNet's pairwise logistic loss, each pair
weighted by how much swapping the two would change NDCG at the current ranking (|delta NDCG|)."""

from __future__ import annotations

import torch
from torch import nn

from crossrank.training.losses.ranknet import pair_mask


def delta_ndcg(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``|delta NDCG|[g, i, j]`` of swapping items ``i`` and ``j`` in group ``g``'s ranking by ``logits``
    (gains ``2^label - 1``, discounts ``1 / log2(1 + rank)``, normalised by the ideal DCG)."""
    gains = torch.pow(2.0, labels.to(logits.dtype)) - 1
    order = torch.argsort(logits, dim=-1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(-1, order, torch.arange(1, logits.shape[-1] + 1, device=logits.device).expand_as(order))
    discounts = 1.0 / torch.log2(1.0 + ranks.to(logits.dtype))
    ideal_gains = torch.sort(gains, dim=-1, descending=True).values
    positions = torch.arange(1, logits.shape[-1] + 1, device=logits.device, dtype=logits.dtype)
    ideal = (ideal_gains / torch.log2(1.0 + positions)).sum(dim=-1).clamp(min=1e-10)
    delta = (gains[:, :, None] - gains[:, None, :]).abs() * (discounts[:, :, None] - discounts[:, None, :]).abs()
    return delta / ideal[:, None, None]


class LambdaLoss(nn.Module):
    """Sum over pairs with ``label_i > label_j`` of ``|delta NDCG_ij| * log(1 + exp(-(s_i - s_j)))``, averaged
    over groups (shape (groups, group_size)). The weights are constants (no gradient flows through the ranks)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weights = delta_ndcg(logits.detach(), labels) * pair_mask(labels)
        diff = logits[:, :, None] - logits[:, None, :]
        return (weights * nn.functional.softplus(-diff)).sum(dim=(1, 2)).mean()
