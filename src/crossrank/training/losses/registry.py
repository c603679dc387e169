"""What each training loss needs, in one table: the one place that says which losses compare pairs within query
groups (``data.group_size``) and which distil a teacher's scores (``data.teacher_run``). The config checks
(before any model loads) and the LightningModule read it; the datamodule builds the batches it asks for. Light
on purpose: no torch.

A new loss gets its file in this package (named as its config), a ``conf/loss/<name>.yaml`` and a row here
(``tests/test_losses.py`` checks that they agree)."""

from __future__ import annotations

from dataclasses import dataclass

from crossrank.data.pairs import check_batching
from crossrank.errors import ConfigError


@dataclass(frozen=True)
class LossInfo:
    """One loss: its config name (``loss=<name>``), its class in :mod:`crossrank.training.losses`, what its batches must
    hold, and the name a model card gives it (sentence-transformers' where it has the same loss)."""

    name: str
    cls: str
    groups: bool = False  # (groups, group_size) tensors: batches of whole query groups
    teacher: bool = False  # the teacher's score of every pair too
    card_name: str = ""


LOSSES: dict[str, LossInfo] = {info.cls: info for info in (
    LossInfo("bce", "BCELoss", card_name="BinaryCrossEntropyLoss"),
    LossInfo("ranknet", "RankNetLoss", groups=True, card_name="RankNetLoss"),
    LossInfo("listnet", "ListNetLoss", groups=True, card_name="ListNetLoss"),
    LossInfo("lambdaloss", "LambdaLoss", groups=True, card_name="LambdaLoss"),
    LossInfo("lce", "LCELoss", groups=True, card_name="LCELoss"),
    LossInfo("listmle", "ListMLELoss", groups=True, card_name="ListMLELoss"),
    LossInfo("plistmle", "PListMLELoss", groups=True, card_name="PListMLELoss"),
    LossInfo("mse", "MSELoss", teacher=True, card_name="MSELoss"),
    LossInfo("margin_mse", "MarginMSELoss", groups=True, teacher=True, card_name="MarginMSELoss"),
    LossInfo("kl_div", "KLDivLoss", groups=True, teacher=True, card_name="KLDivLoss"),
)}


def loss_info(target: str | type | object) -> LossInfo | None:
    """The entry of a loss given by its config ``_target_`` (``crossrank.training.losses.LCELoss``), its class or an
    instance (a subclass finds its parent's entry); None for a loss crossrank does not know (pointwise)."""
    if isinstance(target, str):
        return LOSSES.get(target.rsplit(".", 1)[-1])
    cls = target if isinstance(target, type) else type(target)
    return next((LOSSES[c.__name__] for c in cls.__mro__ if c.__name__ in LOSSES), None)


def check_batches(loss: LossInfo | None, batch_size: int, group_size: int | None, teacher_run: object = None,
                  length_grouped: bool = False) -> None:
    """The batches ``data`` will build suit ``loss``: one line naming the key to set otherwise."""
    check_batching(batch_size, group_size, length_grouped)
    if loss is None:
        if group_size:
            raise ConfigError("loss: a loss crossrank.training.losses.registry does not list gets query groups "
                              "(data.group_size is set) but would read them as single pairs; add its row there")
        return
    if loss.groups and not group_size:
        raise ConfigError(f"loss: {loss.cls} compares pairs within query groups; set data.group_size (e.g. 8)")
    if loss.teacher and not teacher_run:
        raise ConfigError(f"loss: {loss.cls} distils teacher scores; set data.teacher_run (a TREC run, e.g. from "
                          "crossrank teach, or source: the training source's own run, e.g. data=msmarco_kd)")
