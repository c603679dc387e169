"""Run tracking: pushing evaluation results to the loggers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def log_evaluation(loggers: list[Any], name: str, result: Mapping[str, Any], per_query_path: str | None = None,
                   step: int | None = None) -> None:
    """Evaluation metrics into every logger; for W&B also the run summary and a per-query table."""
    runs = {"first_stage": result["first_stage"], "reranked": result["reranked"],
            **({"interpolated": result["interpolated"]} if result.get("interpolated") else {}),
            **(result.get("others") or {})}  # the fusion and the teacher (or compared runs) too
    flat = {f"eval/{name}/{run}/{m}": v for run, metrics in runs.items() for m, v in metrics.items()}
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
