"""Training objectives, one per file. Pointwise losses take (logits, labels) of any shape; grouped ones take
(groups, group_size) tensors from ``data.group_size`` batches, and distillation losses the teacher's scores of the
same pairs too: :mod:`crossrank.training.losses.registry` says which is which.

The classes load on first use, so the registry can be read without importing torch."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crossrank.training.losses.registry import LOSSES

if TYPE_CHECKING:
    from crossrank.training.losses.bce import BCELoss
    from crossrank.training.losses.kl_div import KLDivLoss
    from crossrank.training.losses.lambdaloss import LambdaLoss
    from crossrank.training.losses.lce import LCELoss
    from crossrank.training.losses.listmle import ListMLELoss
    from crossrank.training.losses.listnet import ListNetLoss
    from crossrank.training.losses.margin_mse import MarginMSELoss
    from crossrank.training.losses.mse import MSELoss
    from crossrank.training.losses.plistmle import PListMLELoss
    from crossrank.training.losses.ranknet import RankNetLoss

__all__ = ["BCELoss", "KLDivLoss", "LCELoss", "LambdaLoss", "ListMLELoss", "ListNetLoss", "MarginMSELoss",
           "MSELoss", "PListMLELoss", "RankNetLoss"]


def __getattr__(name: str) -> Any:
    if name in LOSSES:
        return getattr(importlib.import_module(f"{__name__}.{LOSSES[name].name}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
