"""Binary cross-entropy on the raw logit (sentence-transformers' BinaryCrossEntropyLoss)."""

from __future__ import annotations

import torch
from torch import nn


class BCELoss(nn.Module):
    """``BCEWithLogitsLoss`` over one logit per pair; labels in [0, 1].

    Args:
        pos_weight: weight of positive examples (None = 1). With ~3% positives, ~32 balances the classes.
    """

    def __init__(self, pos_weight: float | None = None) -> None:
        super().__init__()
        self.pos_weight = pos_weight
        weight = None if pos_weight is None else torch.tensor(float(pos_weight))
        self.register_buffer("_pos_weight", weight, persistent=False)
        self.activation_fn = nn.Identity()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(
            self.activation_fn(logits), labels.to(logits.dtype), pos_weight=self._pos_weight)

    def citation_params(self) -> dict[str, object]:
        """The parameters as a model card shows them."""
        return {"activation_fn": "torch.nn.modules.linear.Identity", "pos_weight": self.pos_weight}
