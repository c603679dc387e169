"""Training objectives, one per file. Pointwise losses take (logits, labels) of any shape; grouped ones
(``grouped = True``) take (groups, group_size) tensors from ``data.group_size`` batches, and distillation losses
(``needs_teacher = True``) the teacher's scores of the same pairs too."""

from crossrank.losses.bce import BCELoss
from crossrank.losses.kl_div import KLDivLoss
from crossrank.losses.lambdaloss import LambdaLoss
from crossrank.losses.lce import LCELoss
from crossrank.losses.listnet import ListNetLoss
from crossrank.losses.margin_mse import MarginMSELoss
from crossrank.losses.ranknet import RankNetLoss

__all__ = ["BCELoss", "KLDivLoss", "LambdaLoss", "LCELoss", "ListNetLoss", "MarginMSELoss", "RankNetLoss"]
