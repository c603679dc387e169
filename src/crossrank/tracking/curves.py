"""The training-curves figure every run writes (``OUT/curves.png``), for people who do not open notebooks:
training loss (raw and smoothed), learning rate, gradient norm and validation metrics against the step."""

from __future__ import annotations

import logging
from pathlib import Path

from crossrank.files import atomic_path
from crossrank.tracking.runs import RunDir, loss_column, lr_column, step_series, val_columns

log = logging.getLogger(__name__)


def smooth(values, window: int = 20):
    """A trailing rolling mean (the first points average what there is)."""
    return values.rolling(window, min_periods=1).mean()


def plot_runs(runs: list, title: str = ""):
    """One figure with four panels sharing the step axis; each run is one colour in every panel. ``runs``
    are anything with ``name`` and ``metrics()`` (a :class:`RunDir`, an analysis ``RunData``). The figure is
    made without pyplot, so it neither needs a display nor changes a notebook's backend."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7))
    axes = fig.subplots(2, 2, sharex=True)
    (loss_ax, lr_ax), (grad_ax, val_ax) = axes
    for i, run in enumerate(runs):
        metrics = run.metrics()
        color = f"C{i % 10}"
        label = run.name if len(runs) > 1 else None
        if (col := loss_column(metrics)) is not None:
            loss = step_series(metrics, col)
            loss_ax.plot(loss["step"], loss[col], color=color, alpha=0.25, lw=0.8)
            loss_ax.plot(loss["step"], smooth(loss[col]), color=color, label=label)
        if (col := lr_column(metrics)) is not None:
            lr = step_series(metrics, col)
            lr_ax.plot(lr["step"], lr[col], color=color, label=label)
        if "train/grad_norm" in metrics:
            grad = step_series(metrics, "train/grad_norm")
            grad_ax.plot(grad["step"], grad["train/grad_norm"], color=color, label=label)
        for j, col in enumerate(val_columns(metrics)):
            val = step_series(metrics, col)
            val_ax.plot(val["step"], val[col], color=color, marker="os^v"[j % 4], ls="-" if j == 0 else "--",
                        label=f"{run.name}: {col}" if len(runs) > 1 else col)
    loss_ax.set(title="training loss (faint: each logged step; line: mean of the last 20 logged)", ylabel="loss")
    lr_ax.set(title="learning rate", ylabel="lr")
    grad_ax.set(title="gradient norm before clipping", ylabel="L2 norm", xlabel="optimizer step")
    val_ax.set(title="validation (held-out queries)", ylabel="metric", xlabel="optimizer step")
    if not val_ax.lines:
        val_ax.text(0.5, 0.5, "no validation\n(data.pairs.val_queries=N)", ha="center", va="center",
                    transform=val_ax.transAxes, color="grey")
    for ax in axes.flat:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_curves(run_dir: str | Path, path: str | Path | None = None) -> Path | None:
    """Write ``curves.png`` for one run (None, with a log line, when the run has no CSV log)."""
    run = RunDir(Path(run_dir))
    if run.metrics().empty:
        log.info("no csv/metrics.csv in %s: no curves.png (add the csv logger)", run.path)
        return None
    fig = plot_runs([run], title=run.name)
    out = Path(path) if path else run.path / "curves.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return out
