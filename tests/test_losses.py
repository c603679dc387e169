from __future__ import annotations

import torch

from crossrank.losses import BCELoss


def test_bce_matches_torch_and_pos_weight_changes_it() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5])
    labels = torch.tensor([1.0, 0.0, 0.0])
    plain = BCELoss()(logits, labels)
    assert torch.allclose(plain, torch.nn.functional.binary_cross_entropy_with_logits(logits, labels))
    weighted = BCELoss(pos_weight=4.0)(logits, labels)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=torch.tensor(4.0))
    assert torch.allclose(weighted, expected) and weighted > plain
