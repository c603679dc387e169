"""The exported model's README.md, laid out like the cards sentence-transformers writes."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def framework_versions() -> dict[str, str]:
    """Versions of the libraries that trained the model."""
    import importlib.metadata as md

    out = {"Python": platform.python_version()}
    for pkg in ("crossrank", "torch", "lightning", "transformers", "tokenizers", "datasets", "ranx"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out


def _stats_cell(stats: Mapping[str, float], unit: str) -> str:
    return (f"<ul><li>min: {stats['min']} {unit}</li><li>mean: {stats['mean']} {unit}</li>"
            f"<li>max: {stats['max']} {unit}</li></ul>") if stats else ""


def metric_result(name: str, value: float) -> Any:
    """One Hugging Face ``model-index`` metric: ``ndcg@10`` -> ``ndcg_at_10``; ``mrr@10-l2`` keeps its
    relevance level in the name (``MRR@10 (relevance >= 2)``)."""
    base, _, level = name.partition("-l")
    kind, _, k = base.partition("@")
    metric_type = f"{kind}_at_{k}" if k else kind
    label = f"{kind.upper() if kind != 'ndcg' else 'nDCG'}{'@' + k if k else ''}"
    if level:
        label += f" (relevance >= {level})"
    return metric_type, label, round(float(value), 4)


#: What loads an export, by head: ``library_name`` in the card's metadata (the Hub's "use this model" button),
#: and the lines of its usage example.
LOADERS: dict[str, tuple[str | None, list[str]]] = {
    "classifier": ("sentence-transformers", [
        "# the same raw logits with sentence-transformers or transformers:",
        "from sentence_transformers import CrossEncoder",
        "CrossEncoder('path/to/this/folder').predict([('how many people live in berlin', "
        "'Berlin has 3.7 million inhabitants.')])",
        "# transformers.AutoModelForSequenceClassification.from_pretrained('path/to/this/folder') (one logit)",
    ]),
    "segment_cosine": (None, [
        "# Only crossrank loads this head. transformers' AutoModelForSequenceClassification and",
        "# sentence-transformers' CrossEncoder would put a new, random classifier on the encoder.",
    ]),
}


def metadata(base_model: str | None, evaluation: Mapping[str, Any] | None, model_name: str,
             head: str = "classifier") -> Any:
    """The card's YAML header via ``huggingface_hub.ModelCardData``: base model, the library that loads the
    folder (none that the Hub knows for crossrank's own heads), tags, and the reranked evaluation results as
    ``model-index``, which the Hub shows as an evaluation table."""
    from huggingface_hub import EvalResult, ModelCardData

    results = []
    for set_name, result in (evaluation or {}).items():
        for name, value in (result.get("reranked") or {}).items():
            if value is None:
                continue
            metric_type, label, rounded = metric_result(name, value)
            results.append(EvalResult(task_type="text-ranking", task_name="Reranking", dataset_type=set_name,
                                      dataset_name=set_name, metric_type=metric_type, metric_value=rounded,
                                      metric_name=label))
    data = ModelCardData(base_model=base_model, library_name=LOADERS[head][0], pipeline_tag="text-ranking",
                         tags=["cross-encoder", "reranker", "crossrank"], model_name=model_name if results else None,
                         eval_results=results or None)
    return data


TEMPLATE = Path(__file__).with_name("card_template.md")

#: The sentence under the title: what the folder is, and so what loads it.
LOADS_WITH = {
    "classifier": "The folder is a plain Hugging Face sequence classifier with one output logit; it loads in "
                  "`transformers` and in sentence-transformers' `CrossEncoder` with identical scores (raw logits, "
                  "Identity activation).",
    "segment_cosine": "The folder is the encoder with crossrank's segment-cosine head (`crossrank_head` in "
                      "`config.json`: the logit is a scaled cosine between the query's and the passage's mean token "
                      "states of one joint encoding). Load it with crossrank; `transformers` and "
                      "sentence-transformers' `CrossEncoder` would put a new, random classifier on top.",
}


def render(base_model: str, dataset: Mapping[str, Any] | None, loss_name: str, loss_params: Mapping[str, Any],
           hyperparameters: Mapping[str, Any], defaults: Mapping[str, Any], loss_history: list[dict[str, float]],
           evaluation: Mapping[str, Any] | None = None, max_length: int = 512,
           base_model_note: str | None = None, model_name: str = "crossrank cross-encoder",
           head: str = "classifier", rankings: tuple[str, ...] = ("first_stage", "reranked"),
           loss_note: str | None = None) -> str:
    """Markdown for ``README.md`` from ``card_template.md`` (``huggingface_hub.ModelCard.from_template``): base
    model, data, loss, hyperparameters, training log, results (the rows ``rankings`` of each set that has them).

    ``base_model`` goes into the Hub metadata only when it is a Hub id; ``base_model_note`` says in prose
    where the weights really came from (e.g. an offline package)."""
    from huggingface_hub import ModelCard

    from crossrank.models.hub import is_hub_id

    hub_id = is_hub_id(base_model)
    card = ModelCard.from_template(
        metadata(base_model if hub_id else None, evaluation, model_name, head), template_path=str(TEMPLATE),
        base_model=base_model, loads_with=LOADS_WITH[head], usage=LOADERS[head][1],
        base_model_link=f"[{base_model}](https://huggingface.co/{base_model})" if hub_id else f"`{base_model}`",
        base_model_note=base_model_note, dataset=dataset, max_length=max_length,
        columns=", ".join(f"<code>{c}</code>" for c in (dataset or {}).get("columns", [])),
        query_stats=_stats_cell((dataset or {}).get("query_chars") or {}, "characters"),
        passage_stats=_stats_cell((dataset or {}).get("passage_chars") or {}, "characters"),
        loss_name=loss_name, loss_params=json.dumps(dict(loss_params), indent=2).replace("\n", "\n  "),
        loss_note=loss_note,
        non_default={k: v for k, v in hyperparameters.items() if defaults.get(k, object()) != v},
        hyperparameters=hyperparameters, loss_history=loss_history, evaluation=evaluation,
        rankings=rankings, versions=framework_versions())
    return card.content
