"""Training objectives, one per file. Each takes (logits, labels) and returns a scalar."""

from crossrank.losses.bce import BCELoss

__all__ = ["BCELoss"]
