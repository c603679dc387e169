"""RankNet (Burges et al., 2005), as sentence-transformers' ``RankNetLoss``: the logistic loss of the score
difference of every pair whose labels differ in a query group, averaged over the batch's pairs, in base-2
logarithms (LambdaLoss without a weighting scheme)."""

from __future__ import annotations

from crossrank.training.losses.lambdaloss import LambdaLoss


class RankNetLoss(LambdaLoss):
    """Logits and labels of shape (groups, group_size) (``data.group_size``)."""

    def __init__(self, sigma: float = 1.0, reduction_log: str = "binary") -> None:
        super().__init__(weighting="none", sigma=sigma, reduction_log=reduction_log)

    def citation_params(self) -> dict[str, object]:
        params = super().citation_params()
        del params["weighting_scheme"]  # as sentence-transformers' RankNetLoss card: it has none
        return params
