"""LambdaLoss (Wang et al., CIKM 2018, "The LambdaLoss Framework for Ranking Metric Optimization"), as
sentence-transformers' ``LambdaLoss``: each group's items sorted by score, every pair whose labels differ gets the
logistic loss of its score difference weighted by a scheme (NDCG-Loss2++ by default, the paper's best), and the
loss is the mean over the batch's weighted pairs in base-2 logarithms. ``weighting`` picks the scheme:
``ndcg_loss2pp``, ``ndcg_loss2``, ``ndcg_loss1``, ``lambdarank`` (LambdaRank's |delta NDCG|) or ``none`` (RankNet).
Groups are full (``data.group_size``): no padding."""

from __future__ import annotations

import math

import torch
from torch import nn

from crossrank.errors import ConfigError

SCHEMES = ("ndcg_loss2pp", "ndcg_loss2", "ndcg_loss1", "lambdarank", "none")


def lambdarank_weights(gain: torch.Tensor, discount: torch.Tensor) -> torch.Tensor:
    """``|1/D_i - 1/D_j| * |G_i - G_j|`` (positions by score)."""
    return (torch.pow(discount[:, :, None], -1.0) - torch.pow(discount[:, None, :], -1.0)).abs() * \
        (gain[:, :, None] - gain[:, None, :]).abs()


def ndcg_loss2_weights(gain: torch.Tensor, discount: torch.Tensor) -> torch.Tensor:
    """``|1/D_|i-j| - 1/D_|i-j|+1| * |G_i - G_j|``: the tighter bound of the paper's NDCG-Loss2."""
    positions = torch.arange(1, gain.shape[1] + 1, device=gain.device)
    delta = (positions[:, None] - positions[None, :]).abs()
    deltas = (torch.pow(discount[0, delta - 1].abs(), -1.0) - torch.pow(discount[0, delta].abs(), -1.0)).abs()
    deltas.diagonal().zero_()
    return deltas[None, :, :] * (gain[:, :, None] - gain[:, None, :]).abs()


class LambdaLoss(nn.Module):
    """Logits and labels of shape (groups, group_size); ``k``: only pairs with an item in the top ``k``;
    ``mu``: NDCG-Loss2++'s weight of its NDCG-Loss2 part; ``reduction_log``: ``binary`` (log2) or ``natural``."""

    def __init__(self, weighting: str = "ndcg_loss2pp", k: int | None = None, sigma: float = 1.0, mu: float = 10.0,
                 eps: float = 1e-10, reduction_log: str = "binary") -> None:
        super().__init__()
        if weighting not in SCHEMES:
            raise ConfigError(f"loss.weighting: {weighting!r} (expected {', '.join(SCHEMES)})")
        if reduction_log not in ("binary", "natural"):
            raise ConfigError(f"loss.reduction_log: {reduction_log!r} (expected binary or natural)")
        self.weighting, self.k, self.sigma, self.mu, self.eps = weighting, k, sigma, mu, eps
        self.reduction_log = reduction_log

    def citation_params(self) -> dict[str, object]:
        """The loss's parameters as sentence-transformers' card lists them (its ``get_config_dict``: the scheme's
        class, not its ``mu``, which the run's config keeps)."""
        where = "sentence_transformers.cross_encoder.losses.lambda_loss."
        names = {"ndcg_loss2pp": "NDCGLoss2PPScheme", "ndcg_loss2": "NDCGLoss2Scheme", "ndcg_loss1": "NDCGLoss1Scheme",
                 "lambdarank": "LambdaRankScheme", "none": "NoWeightingScheme"}
        return {"weighting_scheme": where + names[self.weighting], "k": self.k, "sigma": self.sigma, "eps": self.eps,
                "reduction_log": self.reduction_log, "activation_fn": "torch.nn.modules.linear.Identity",
                "mini_batch_size": None}

    def card_note(self) -> str | None:
        """What the cited parameters leave out: NDCG-Loss2++'s ``mu`` when it is not sentence-transformers' 10."""
        if self.weighting == "ndcg_loss2pp" and self.mu != 10.0:
            return f"the weighting scheme's mu is {self.mu:g} (sentence-transformers' default: 10)"
        return None

    def weights(self, gain: torch.Tensor, discount: torch.Tensor) -> torch.Tensor:
        if self.weighting == "none":
            return torch.tensor(1.0, device=gain.device)
        if self.weighting == "ndcg_loss1":
            return (gain / discount)[:, :, None]
        if self.weighting == "lambdarank":
            return lambdarank_weights(gain, discount)
        if self.weighting == "ndcg_loss2":
            return ndcg_loss2_weights(gain, discount)
        return self.mu * ndcg_loss2_weights(gain, discount) + lambdarank_weights(gain, discount)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        n = logits.shape[-1]
        by_score, order = logits.sort(descending=True, dim=-1)
        ideal = labels.sort(descending=True, dim=-1).values.clamp(min=0.0)
        true = labels.gather(1, order)
        pairs = true[:, :, None] - true[:, None, :]
        valid = torch.isfinite(pairs) if self.weighting == "ndcg_loss1" else torch.isfinite(pairs) & (pairs > 0)
        k = self.k or n
        top = torch.zeros((n, n), dtype=torch.bool, device=logits.device)
        top[:k, :] = True
        top[:, :k] = True
        true = true.clamp(min=0.0)
        discount = torch.log2(1.0 + torch.arange(1, n + 1, device=logits.device, dtype=logits.dtype))[None, :]
        best = torch.sum(((torch.pow(2, ideal) - 1) / discount)[:, :k], dim=-1).clamp(min=self.eps)
        gain = (torch.pow(2, true) - 1) / best[:, None]
        diffs = (by_score[:, :, None] - by_score[:, None, :]).clamp(min=-1e8, max=1e8)
        diffs = diffs.masked_fill(torch.isnan(diffs), 0.0)
        losses = self.weights(gain, discount) * nn.functional.logsigmoid(self.sigma * diffs)
        if self.reduction_log == "binary":
            losses = losses / math.log(2)
        kept = losses[valid & top]
        return -kept.sum() / max(kept.numel(), 1)
