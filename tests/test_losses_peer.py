"""Every loss whose name a model card carries equals sentence-transformers' loss of that name, on the same logits
and labels: the logits of a real (tiny) CrossEncoder, which sentence-transformers' losses compute themselves from
the texts, handed to crossrank's losses. Within 1e-5."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

QUERIES = ["how do solar panels work", "coffee beans roast", "jazz piano chords"]
DOCS = [[f"{q} passage {j} {'match' if j == 0 else 'other words'}" for j in range(4)] for q in QUERIES]
BINARY = [[1.0, 0.0, 0.0, 0.0]] * 3
GRADED = [[3.0, 2.0, 0.0, 1.0], [2.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
TEACHER = torch.tensor([[9.5, 2.25, -1.5, 0.75], [7.0, 3.0, 1.0, -2.0], [5.5, 5.0, -3.0, 1.0]])


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(tiny_model_dir), device="cpu").eval()


@pytest.fixture(scope="module")
def logits(model) -> torch.Tensor:
    pairs = [(q, d) for q, docs in zip(QUERIES, DOCS) for d in docs]
    with torch.no_grad():
        return model(model.preprocess(pairs))["scores"].view(len(QUERIES), 4).float()


def peer(name: str, model, **kwargs):
    from sentence_transformers.cross_encoder import losses

    return getattr(losses, name)(model, **kwargs)


def flat() -> list[list[str]]:
    return [[q for q in QUERIES for _ in range(4)], [d for docs in DOCS for d in docs]]


def test_pointwise_and_margin_losses(model, logits: torch.Tensor) -> None:
    from crossrank.training.losses import BCELoss, MarginMSELoss, MSELoss

    labels = torch.tensor(BINARY)
    with torch.no_grad():
        assert BCELoss()(logits.view(-1), labels.view(-1)).item() == pytest.approx(
            peer("BinaryCrossEntropyLoss", model)(flat(), labels.view(-1)).item(), abs=1e-5)
        assert MSELoss()(logits.view(-1), labels.view(-1), TEACHER.view(-1)).item() == pytest.approx(
            peer("MSELoss", model)(flat(), TEACHER.view(-1)).item(), abs=1e-5)
        columns = [QUERIES, *[[docs[j] for docs in DOCS] for j in range(4)]]  # query, positive, negatives
        assert MarginMSELoss()(logits, labels, TEACHER).item() == pytest.approx(
            peer("MarginMSELoss", model)(columns, TEACHER).item(), abs=1e-5)


@pytest.mark.parametrize("labels", [BINARY, GRADED], ids=["binary", "graded"])
@pytest.mark.parametrize(("ours", "theirs", "kwargs"), [
    ("ListNetLoss", "ListNetLoss", {}),
    ("ListMLELoss", "ListMLELoss", {"respect_input_order": False}),
    ("PListMLELoss", "PListMLELoss", {"respect_input_order": False}),
    ("RankNetLoss", "RankNetLoss", {}),
    ("LambdaLoss", "LambdaLoss", {}),
])
def test_listwise_losses(ours: str, theirs: str, kwargs: dict, labels, model, logits: torch.Tensor) -> None:
    import crossrank.training.losses as ours_module

    with torch.no_grad():
        got = getattr(ours_module, ours)()(logits, torch.tensor(labels)).item()
        want = peer(theirs, model, **kwargs)([QUERIES, DOCS], [torch.tensor(row) for row in labels]).item()
    assert got == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("scheme", ["ndcg_loss2pp", "ndcg_loss2", "ndcg_loss1", "lambdarank", "none"])
def test_lambdaloss_weighting_schemes(scheme: str, model, logits: torch.Tensor) -> None:
    from sentence_transformers.cross_encoder import losses

    from crossrank.training.losses import LambdaLoss

    schemes = {"ndcg_loss2pp": losses.NDCGLoss2PPScheme(), "ndcg_loss2": losses.NDCGLoss2Scheme(),
               "ndcg_loss1": losses.NDCGLoss1Scheme(), "lambdarank": losses.LambdaRankScheme(),
               "none": losses.NoWeightingScheme()}
    with torch.no_grad():
        got = LambdaLoss(weighting=scheme, k=3)(logits, torch.tensor(GRADED)).item()
        want = losses.LambdaLoss(model, weighting_scheme=schemes[scheme], k=3)(
            [QUERIES, DOCS], [torch.tensor(row) for row in GRADED]).item()
    assert got == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("name", ["bce", "bce_weighted", "listnet", "ranknet", "ndcg_loss2pp", "ndcg_loss2",
                                  "ndcg_loss1", "lambdarank", "none"])
def test_model_card_lists_a_loss_as_sentence_transformers_does(name: str, model) -> None:
    """The parameters a card cites under a sentence-transformers loss's name are that loss's ``get_config_dict``."""
    from sentence_transformers.cross_encoder import losses

    from crossrank.training.losses import BCELoss, LambdaLoss, ListNetLoss, RankNetLoss

    schemes = {"ndcg_loss2pp": losses.NDCGLoss2PPScheme(), "ndcg_loss2": losses.NDCGLoss2Scheme(),
               "ndcg_loss1": losses.NDCGLoss1Scheme(), "lambdarank": losses.LambdaRankScheme(),
               "none": losses.NoWeightingScheme()}
    pairs = {"bce": (BCELoss(), losses.BinaryCrossEntropyLoss(model)),
             "bce_weighted": (BCELoss(pos_weight=3.0),
                              losses.BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(3.0))),
             "listnet": (ListNetLoss(), losses.ListNetLoss(model)),
             "ranknet": (RankNetLoss(sigma=2.0), losses.RankNetLoss(model, sigma=2.0))}
    ours, theirs = pairs.get(name) or (LambdaLoss(weighting=name, k=5),
                                      losses.LambdaLoss(model, weighting_scheme=schemes[name], k=5))
    assert ours.citation_params() == theirs.get_config_dict()
