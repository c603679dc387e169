"""Position-aware ListMLE (Lan et al., UAI 2014, "Position-Aware ListMLE: A Sequential Learning Process for
Ranking"): ListMLE with each rank's term weighted by ``2^(n - r) - 1``, normalised to sum 1 per group, so that
mistakes at the top cost most. The weights of sentence-transformers' PListMLELoss (PListMLELambdaWeight)."""

from __future__ import annotations

import torch
from torch import nn

from crossrank.training.losses.listmle import plackett_luce_log_probs


def position_weights(group_size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(2^(n - r) - 1) / sum_r (2^(n - r) - 1)`` for ranks ``r = 1..n`` (the last rank weighs 0), computed as
    ``2^-r - 2^-n`` over its sum in float64, which neither overflows nor loses the ratios for any ``n``."""
    ranks = torch.arange(1, group_size + 1, device=device, dtype=torch.float64)
    weights = torch.pow(2.0, -ranks) - 2.0 ** -group_size
    return (weights / weights.sum().clamp(min=1e-300)).to(dtype)


class PListMLELoss(nn.Module):
    """``-sum_r w_r log P_r`` per group (:func:`position_weights`), averaged over groups of shape
    (groups, group_size)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_probs = plackett_luce_log_probs(logits, labels.to(logits.dtype))
        weights = position_weights(logits.shape[-1], logits.dtype, logits.device)
        return -(log_probs * weights).sum(dim=-1).mean()
