"""The exported model's README.md, laid out like the cards sentence-transformers writes."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
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
             head: str = "classifier") -> str:
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
    return data.to_yaml()


def render(base_model: str, dataset: Mapping[str, Any] | None, loss_name: str, loss_params: Mapping[str, Any],
           hyperparameters: Mapping[str, Any], defaults: Mapping[str, Any], loss_history: list[dict[str, float]],
           evaluation: Mapping[str, Any] | None = None, max_length: int = 512,
           base_model_note: str | None = None, model_name: str = "crossrank cross-encoder",
           head: str = "classifier") -> str:
    """Markdown for ``README.md``: base model, data, loss, hyperparameters, training log, results.

    ``base_model`` goes into the Hub metadata only when it is a Hub id; ``base_model_note`` says in prose
    where the weights really came from (e.g. an offline package)."""
    from crossrank.models.hub import is_hub_id

    non_default = {k: v for k, v in hyperparameters.items() if defaults.get(k, object()) != v}
    shown = f"[{base_model}](https://huggingface.co/{base_model})" if is_hub_id(base_model) else f"`{base_model}`"
    lines = [
        "---",
        metadata(base_model if is_hub_id(base_model) else None, evaluation, model_name, head).strip(),
        "---",
        "",
        f"# Cross-encoder reranker fine-tuned from {base_model}",
        "",
        "Trained with crossrank (PyTorch Lightning + Hydra). " + (
            "The folder is a plain Hugging Face sequence classifier with one output logit; it loads in `transformers` "
            "and in sentence-transformers' `CrossEncoder` with identical scores (raw logits, Identity activation)."
            if head == "classifier" else
            "The folder is the encoder with crossrank's segment-cosine head (`crossrank_head` in `config.json`: "
            "the logit is a scaled cosine between the query's and the passage's mean token states of one joint "
            "encoding). Load it with crossrank; `transformers` and sentence-transformers' `CrossEncoder` would "
            "put a new, random classifier on top."),
        "",
        "## Model Details",
        f"- **Base model:** {shown}" + (f". {base_model_note}" if base_model_note else ""),
        *([f"- **Training dataset:** `{dataset['name']}` ({dataset['origin']})"] if dataset and "name" in dataset
          else []),
        f"- **Maximum Sequence Length:** {max_length} tokens",
        "- **Number of Output Labels:** 1 label",
        "",
        "## Usage",
        "```python",
        "from crossrank import Reranker",
        "",
        'model = Reranker("path/to/this/folder")',
        'scores = model.predict([("how many people live in berlin", "Berlin has 3.7 million inhabitants.")])',
        'ranks = model.rank("how many people live in berlin", ["Berlin has 3.7 million inhabitants.", "Paris."])',
        "",
        *LOADERS[head][1],
        "```",
        "",
        "## Training Details",
        "",
        "### Training Dataset",
    ]
    if dataset:
        if "name" in dataset:
            lines.append(f"* Dataset: `{dataset['name']}`, from {dataset['origin']}")
        lines += [
            f"* Size: {dataset['size']:,} training samples ({dataset.get('positives', 0):,} positive)",
            "* Columns: " + ", ".join(f"<code>{c}</code>" for c in dataset["columns"]),
            "* Approximate statistics based on the first 1000 samples:",
            "  |         | query | passage | label |",
            "  |:--------|:------|:--------|:------|",
            "  | type    | string | string | float |",
            f"  | details | {_stats_cell(dataset['query_chars'], 'characters')} | "
            f"{_stats_cell(dataset['passage_chars'], 'characters')} | "
            f"<ul><li>min: {dataset['label_min']}</li><li>mean: {dataset['label_mean']:.4f}</li>"
            f"<li>max: {dataset['label_max']}</li></ul> |",
        ]
        if dataset.get("val_queries"):
            lines.append(f"* Validation: {dataset['val_queries']} held-out queries, {dataset['val_pairs']:,} pairs")
    lines += [
        f"* Loss: <code>{loss_name}</code> with these parameters:",
        "  ```json",
        "  " + json.dumps(dict(loss_params), indent=2).replace("\n", "\n  "),
        "  ```",
        "",
        "### Training Hyperparameters",
        "#### Non-Default Hyperparameters",
        "",
        *[f"- `{k}`: {v}" for k, v in non_default.items()],
        "",
        "#### All Hyperparameters",
        "<details><summary>Click to expand</summary>",
        "",
        *[f"- `{k}`: {v}" for k, v in hyperparameters.items()],
        "",
        "</details>",
        "",
        "### Training Logs",
        "| Epoch | Step | Training Loss |",
        "|:-----:|:----:|:-------------:|",
        *[f"| {r['epoch']:.4f} | {r['step']} | {r['loss']} |" for r in loss_history],
        "",
    ]
    if evaluation:
        lines += ["## Evaluation", ""]
        for name, result in evaluation.items():
            metrics = list(result["reranked"])
            lines += [f"### {name} ({result['n_queries']} queries, {result['n_pairs']:,} pairs)", "",
                      "| run | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
            for run in ("first_stage", "reranked"):
                lines.append(f"| {run} | " + " | ".join("-" if result[run].get(m) is None else f"{result[run][m]:.4f}"
                                                         for m in metrics) + " |")
            lines.append("")
    lines += ["### Framework Versions", *[f"- {k}: {v}" for k, v in framework_versions().items()], ""]
    return "\n".join(lines)
