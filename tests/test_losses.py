from __future__ import annotations

import math

import pytest
import torch

from crossrank.training.losses import BCELoss


def test_bce_matches_torch_and_pos_weight_changes_it() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5])
    labels = torch.tensor([1.0, 0.0, 0.0])
    plain = BCELoss()(logits, labels)
    assert torch.allclose(plain, torch.nn.functional.binary_cross_entropy_with_logits(logits, labels))
    weighted = BCELoss(pos_weight=4.0)(logits, labels)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=torch.tensor(4.0))
    assert torch.allclose(weighted, expected) and weighted > plain


def softplus(x: float) -> float:
    import math

    return math.log(1 + math.exp(x))


def test_ranknet_by_hand() -> None:
    from crossrank.training.losses import RankNetLoss

    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    # pairs (0,1), (0,2) with margins 1 and 2, then -1 and 0: the mean over the batch's four pairs, in log2
    want = (softplus(-1) + softplus(-2) + softplus(1) + softplus(0)) / 4 / math.log(2)
    assert RankNetLoss()(logits, labels).item() == pytest.approx(want, abs=1e-6)
    assert RankNetLoss()(logits, torch.zeros_like(labels)).item() == 0.0  # no ordered pair: nothing to learn


def test_listnet_by_hand() -> None:
    import math

    from crossrank.training.losses import ListNetLoss

    e = math.e
    target = [e / (e + 2), 1 / (e + 2), 1 / (e + 2)]  # softmax of the labels [1, 0, 0]
    lse = math.log(math.exp(2) + math.exp(1) + 1)
    want = -sum(t * (s - lse) for t, s in zip(target, [2.0, 1.0, 0.0]))
    got = ListNetLoss()(torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]))
    assert got.item() == pytest.approx(want, abs=1e-6)


def test_listmle_by_hand() -> None:
    import math

    from crossrank.training.losses import ListMLELoss

    # group 1 ranked by its labels [1, 0, 0] is items 0, 1, 2: log P = 2 - log(e^2 + e + 1), 1 - log(e + 1), 0
    first = (math.log(math.exp(2) + math.e + 1) - 2) + (math.log(math.e + 1) - 1)
    # group 2, labels [0, 2, 1]: the ideal order is items 1, 2, 0 with scores 1, 0, 2
    second = (math.log(math.e + 1 + math.exp(2)) - 1) + (math.log(1 + math.exp(2)) - 0)
    logits = torch.tensor([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    assert ListMLELoss()(logits, labels).item() == pytest.approx((first + second) / 2, abs=1e-6)


def test_plistmle_by_hand() -> None:
    import math

    from crossrank.training.losses import PListMLELoss

    # n = 3: weights 2^2 - 1, 2^1 - 1, 2^0 - 1 = 3, 1, 0, normalised to 3/4, 1/4, 0
    want = 0.75 * (math.log(math.exp(2) + math.e + 1) - 2) + 0.25 * (math.log(math.e + 1) - 1)
    got = PListMLELoss()(torch.tensor([[2.0, 1.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]))
    assert got.item() == pytest.approx(want, abs=1e-6)
    # ties keep the group's order: the positive first, then its negatives as sampled
    tied = PListMLELoss()(torch.tensor([[0.5, 3.0, -1.0]]), torch.tensor([[1.0, 0.0, 0.0]]))
    lp1 = 0.5 - math.log(math.exp(0.5) + math.exp(3) + math.exp(-1))
    lp2 = 3.0 - math.log(math.exp(3) + math.exp(-1))
    assert tied.item() == pytest.approx(-(0.75 * lp1 + 0.25 * lp2), abs=1e-6)


def test_lce_by_hand() -> None:
    import math

    from crossrank.errors import CrossrankError
    from crossrank.training.losses import LCELoss

    lse = math.log(math.exp(2) + math.exp(1) + 1)
    # group 1: the positive is item 1 (-log softmax = lse - 1); group 2: two positives share the target
    logits = torch.tensor([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    want = ((lse - 1.0) + ((lse - 2.0) + (lse - 0.0)) / 2) / 2
    assert LCELoss()(logits, labels).item() == pytest.approx(want, abs=1e-6)
    with pytest.raises(CrossrankError, match="no positive label"):
        LCELoss()(logits, torch.zeros_like(labels))


def test_lambdaloss_by_hand() -> None:
    import math

    from crossrank.training.losses import LambdaLoss

    # scores rank item 2 first, item 1 second, item 0 last; labels 2, 0, 1 -> gains 3, 0, 1
    logits, labels = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[2.0, 0.0, 1.0]])
    disc = {0: 1 / math.log2(4), 1: 1 / math.log2(3), 2: 1.0}
    gain = {0: 3.0, 1: 0.0, 2: 1.0}
    ideal = 3.0 + 1.0 / math.log2(3)
    want = 0.0
    for i, j in ((0, 1), (0, 2), (2, 1)):  # pairs with label_i > label_j
        weight = abs(gain[i] - gain[j]) * abs(disc[i] - disc[j]) / ideal
        want += weight * softplus(-(logits[0, i].item() - logits[0, j].item()))
    got = LambdaLoss(weighting="lambdarank")(logits, labels)  # the mean over the three pairs, in log2
    assert got.item() == pytest.approx(want / 3 / math.log(2), abs=1e-5)
    # the weights are constants: the gradient is the weighted RankNet gradient
    x = logits.clone().requires_grad_(True)
    LambdaLoss(weighting="lambdarank")(x, labels).backward()
    assert x.grad is not None and x.grad[0, 0] < 0 < x.grad[0, 1]


def test_margin_mse_by_hand() -> None:
    from crossrank.training.losses import MarginMSELoss

    got = MarginMSELoss()(torch.tensor([[3.0, 1.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]),
                          torch.tensor([[0.9, 0.5, 0.1]]))
    assert got.item() == pytest.approx(((2 - 0.4) ** 2 + (3 - 0.8) ** 2) / 2, abs=1e-6)


def test_kl_div_by_hand() -> None:
    import math

    from crossrank.training.losses import KLDivLoss

    p_s = [math.e / (1 + math.e), 1 / (1 + math.e)]  # softmax of student [1, 0]; teacher [0, 0] is uniform
    want = sum(0.5 * math.log(0.5 / q) for q in p_s)
    got = KLDivLoss()(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]))
    assert got.item() == pytest.approx(want, abs=1e-6)
    # T sharpens the teacher only: teacher [0, 1] at T=0.5 is softmax([0, 2]); the student [1, 0] stays as it is
    p_t = [1 / (1 + math.e ** 2), math.e ** 2 / (1 + math.e ** 2)]
    want = sum(t * math.log(t / q) for t, q in zip(p_t, p_s))
    got = KLDivLoss(temperature=0.5)(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2), torch.tensor([[0.0, 1.0]]))
    assert got.item() == pytest.approx(want, abs=1e-6)


def test_every_loss_config_class_and_registry_row_agree() -> None:
    """conf/loss/<name>.yaml, the class it names and the registry row that says what its batches need."""
    from pathlib import Path

    import yaml

    import crossrank.training.losses
    from crossrank.training.losses.registry import LOSSES, loss_info

    configs = {p.stem: yaml.safe_load(p.read_text())["_target_"]
               for p in (Path(__file__).resolve().parents[1] / "conf" / "loss").glob("*.yaml")}
    assert sorted(configs) == sorted(info.name for info in LOSSES.values())
    for name, target in configs.items():
        info = loss_info(target)
        assert info is not None and info.name == name
        cls = getattr(crossrank.training.losses, info.cls)
        assert loss_info(cls) is info and target.rsplit(".", 1)[-1] == cls.__name__
    assert sorted(crossrank.training.losses.__all__) == sorted(LOSSES)


def test_plistmle_weights_stay_finite_for_long_groups() -> None:
    from crossrank.training.losses import PListMLELoss
    from crossrank.training.losses.plistmle import position_weights

    weights = position_weights(200, torch.float16, torch.device("cpu"))
    assert torch.isfinite(weights).all() and float(weights.float().sum()) == pytest.approx(1.0, abs=1e-2)
    assert float(weights[0]) == pytest.approx(0.5, abs=1e-3)  # 2^(n-1) of a sum of about 2^n
    logits = torch.randn(2, 200)
    labels = torch.zeros(2, 200)
    labels[:, 0] = 1
    assert torch.isfinite(PListMLELoss()(logits, labels))
