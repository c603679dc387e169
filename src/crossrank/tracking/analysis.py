"""Runs as tables and figures for the notebooks: local run dirs, records and multirun folders, or W&B
runs and sweeps through ``wandb.Api()``, all in one shape (:class:`RunData`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crossrank.tracking.runs import find_runs, step_series, val_columns


@dataclass
class RunData:
    """One run: its logged history, config, what a sweep varied, and final evaluations."""

    name: str
    history: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    def metrics(self) -> pd.DataFrame:  # the interface crossrank.tracking.curves.plot_runs draws from
        return self.history


def from_dirs(paths: Iterable[str | Path]) -> list[RunData]:
    """Run dirs, records or folders of runs (a Hydra multirun, an Optuna sweep), in that order."""
    from crossrank.tracking.compare import labels, varied

    runs = [run for p in paths for run in find_runs(p)]
    return [RunData(name=label, history=run.metrics(), config=run.config(), params=params,
                    evaluations=run.evaluations(), path=run.path)
            for label, params, run in zip(labels(runs), varied(runs), runs)]


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) != {"value"}:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value["value"] if isinstance(value, dict) else value
    return out


def evaluations_from_summary(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``eval/<set>/<run>/<metric>`` summary keys back into ``{set: {run: {metric: value}}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in summary.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == "eval" and parts[2] in ("first_stage", "reranked"):
            out.setdefault(parts[1], {}).setdefault(parts[2], {})[parts[3]] = value
    return out


def from_wandb(path: str, api: Any = None) -> list[RunData]:
    """The runs of a W&B project (``entity/project``) or sweep (``entity/project/sweeps/ID``), online."""
    import wandb

    api = api or wandb.Api()
    swept: list[str] = []
    if "/sweeps/" in path:
        sweep = api.sweep(path)
        runs = list(sweep.runs)
        swept = list((sweep.config or {}).get("parameters", {}))
    else:
        runs = list(api.runs(path))
    out = []
    for run in runs:
        history = run.history(samples=100_000, pandas=True)
        if "trainer/global_step" in history:
            history = history.rename(columns={"trainer/global_step": "step"})
        config = _flatten(dict(run.config))
        out.append(RunData(name=run.name, history=history, config=config,
                           params={k: config.get(k) for k in swept},
                           evaluations=evaluations_from_summary(dict(run.summary))))
    return out


def best_validation(run: RunData, metric: str = "val/ndcg@10") -> float | None:
    """The best value of a validation metric over the run (what the best checkpoint and Optuna use)."""
    if metric not in run.history:
        return None
    values = run.history[metric].dropna()
    return float(values.max()) if len(values) else None


def sweep_table(runs: list[RunData], metric: str = "val/ndcg@10") -> pd.DataFrame:
    """One row per run: what it varied, its best validation value, and its final reranked evaluations."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {"run": run.name, **run.params, f"best {metric}": best_validation(run, metric)}
        for set_name, result in run.evaluations.items():
            for m, v in (result.get("reranked") or {}).items():
                row[f"{set_name} {m}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def final_table(runs: list[RunData]) -> pd.DataFrame:
    """First-stage and reranked metrics of every run on every evaluation set."""
    rows = []
    for run in runs:
        for set_name, result in run.evaluations.items():
            for kind in ("first_stage", "reranked"):
                rows.append({"run": run.name, "set": set_name, "ranking": kind, **(result.get(kind) or {})})
    return pd.DataFrame(rows)


def plot_validation(runs: list[RunData]):
    """Validation metrics against the optimizer step and against the epoch, all runs on shared axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4))
    by_step, by_epoch = fig.subplots(1, 2, sharey=True)
    for i, run in enumerate(runs):
        for j, col in enumerate(val_columns(run.history)):
            series = step_series(run.history, col)
            style = dict(color=f"C{i % 10}", marker="os^v"[j % 4], ls="-" if j == 0 else "--")
            by_step.plot(series["step"], series[col], label=f"{run.name}: {col}", **style)
            by_epoch.plot(series["epoch"] + 1, series[col], **style)
    by_step.set(xlabel="optimizer step", ylabel="metric", title="validation by step")
    by_epoch.set(xlabel="epoch (validated during or at the end of it)", title="validation by epoch")
    if by_step.lines:
        by_step.legend(fontsize=7)
    for ax in (by_step, by_epoch):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sweep(runs: list[RunData], metric: str = "val/ndcg@10"):
    """For a sweep: the best validation value of each run against each hyperparameter it varied."""
    from matplotlib.figure import Figure

    table = sweep_table(runs, metric)
    params = [c for c in table.columns if c not in ("run", f"best {metric}") and " " not in c
              and table[c].nunique() > 1]
    if not params:
        return None
    fig = Figure(figsize=(4 * len(params), 3.5))
    axes = fig.subplots(1, len(params), sharey=True, squeeze=False)
    for ax, param in zip(axes[0], params):
        x = pd.to_numeric(table[param], errors="coerce")
        if x.notna().all():
            ax.scatter(x, table[f"best {metric}"])
            if x.min() > 0 and x.max() / x.min() > 20:
                ax.set_xscale("log")
        else:
            ax.scatter(table[param].astype(str), table[f"best {metric}"])
        ax.set(xlabel=param, title=param)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"best {metric}")
    fig.tight_layout()
    return fig
