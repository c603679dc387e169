"""ListMLE (Xia et al., ICML 2008, "Listwise Approach to Learning to Rank"): the negative log-likelihood of the
ideal ranking of each query group under the Plackett-Luce model of the scores. As sentence-transformers'
ListMLELoss, on the raw logit."""

from __future__ import annotations

import torch
from torch import nn


def plackett_luce_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``log P(item at rank r is chosen first among ranks r..n)`` along the ranking by ``labels`` (descending; ties
    keep the group's order, so a group's positive stays first), shape (groups, group_size). With binary labels the
    negatives' order among themselves is the sampled one, as in sentence-transformers' ``respect_input_order``:
    those terms carry no signal beyond pushing the negatives' scores together."""
    order = torch.sort(labels, dim=-1, descending=True, stable=True).indices
    ranked = logits.gather(-1, order)
    remaining = torch.flip(torch.logcumsumexp(torch.flip(ranked, [-1]), dim=-1), [-1])
    return ranked - remaining


class ListMLELoss(nn.Module):
    """``-sum_r log P_r`` per group (:func:`plackett_luce_log_probs`), averaged over groups of shape
    (groups, group_size)."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return -plackett_luce_log_probs(logits, labels.to(logits.dtype)).sum(dim=-1).mean()
