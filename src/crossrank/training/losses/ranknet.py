"""RankNet (Burges et al., 2005): logistic loss on the score difference of every ordered pair in a query group."""

from __future__ import annotations

import torch
from torch import nn


def pair_mask(labels: torch.Tensor) -> torch.Tensor:
    """``mask[g, i, j]``: in group ``g``, item ``i`` is more relevant than item ``j``."""
    return labels[:, :, None] > labels[:, None, :]


class RankNetLoss(nn.Module):
    """Mean over groups of the mean ``log(1 + exp(-(s_i - s_j)))`` over pairs with ``label_i > label_j``.

    Takes logits and labels of shape (groups, group_size) (``data.group_size``); groups without such a pair
    count zero."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        mask = pair_mask(labels)
        diff = logits[:, :, None] - logits[:, None, :]
        per_pair = nn.functional.softplus(-diff) * mask
        pairs = mask.sum(dim=(1, 2)).clamp(min=1)
        return (per_pair.sum(dim=(1, 2)) / pairs).mean()
