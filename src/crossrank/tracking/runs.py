"""Reading finished runs back: a Hydra run dir, a record in ``experiments/``, or a folder of either (a Hydra
multirun, an Optuna sweep). Used by records, comparisons, the curves figure and the notebooks. Light: pandas and
YAML only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from crossrank.errors import CrossrankError
from crossrank.evaluation.spec import RANKINGS as ALL_RANKINGS

METRICS_CSV = Path("csv") / "metrics.csv"


class RunError(CrossrankError):
    """A path that is not a run, a record or a folder of runs."""


#: The rankings an evaluation can hold beside the first stage, and how tables label them.
RANKINGS = {run: label for run, label in ALL_RANKINGS.items() if run != "first_stage"}
CV_METRICS = Path("cv") / "metrics.json"


@dataclass(frozen=True)
class RunDir:
    """One finished (or failed) run: a Hydra run dir or a record; a cross-validation run or record is one run
    whose evaluation is its pooled held-out queries."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_cv(self) -> bool:
        return (self.path / CV_METRICS).is_file()

    def folds(self) -> list[RunDir]:
        """A cross-validation's fold runs (``foldK/``), in fold order."""
        found = [d for d in self.path.glob("fold*") if d.is_dir() and d.name[4:].isdigit()]
        return [RunDir(d) for d in sorted(found, key=lambda d: int(d.name[4:]))]

    def cv_set(self) -> str:
        """The name of a cross-validation's pooled evaluation: the folder its folds split (``cv/metrics.json``'s
        ``set``; records made before it was written: the folds' ``data.path``)."""
        saved = json.loads((self.path / CV_METRICS).read_text()).get("set")
        if saved:
            return str(saved)
        for fold in self.folds():
            path = (fold.config().get("data") or {}).get("path") or next(
                (o.split("=", 1)[1] for o in fold.overrides() if o.startswith("data.path=")), None)
            if path:
                return Path(str(path)).name
        return "cv"

    def config(self) -> dict[str, Any]:
        """The composed config (``.hydra/config.yaml`` of a run, ``config.yaml`` of a record)."""
        for rel in (".hydra/config.yaml", "config.yaml"):
            if (self.path / rel).is_file():
                return yaml.safe_load((self.path / rel).read_text()) or {}
        return {}

    def overrides(self) -> list[str]:
        """The command-line overrides (``.hydra/overrides.yaml``, else run.json's)."""
        path = self.path / ".hydra" / "overrides.yaml"
        if path.is_file():
            return list(yaml.safe_load(path.read_text()) or [])
        return list(self.info().get("overrides", []))

    def info(self) -> dict[str, Any]:
        """``run.json``: command, git, machine, wall time, W&B run ({} for runs made before it existed)."""
        path = self.path / "run.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def metrics(self) -> pd.DataFrame:
        """The CSV log (one row per logged step; empty when the run had no CSV logger)."""
        path = self.path / METRICS_CSV
        return pd.read_csv(path) if path.is_file() else pd.DataFrame()

    def evaluations(self) -> dict[str, dict[str, Any]]:
        """``{set: metrics.json}`` of every evaluation set; for a cross-validation, its pooled held-out queries
        in the same shape (``first_stage``, ``reranked``, ``interpolated``, ``others``)."""
        if self.is_cv:
            cv = json.loads((self.path / CV_METRICS).read_text())
            pooled = dict(cv.get("pooled") or {})
            folds = [f.evaluations() for f in self.folds()]
            first = next((m for f in folds for m in f.values()), {})
            return {self.cv_set(): {
                "first_stage": pooled.pop("first_stage", {}), "reranked": pooled.pop("reranked", {}),
                "interpolated": pooled.pop("interpolated", None), "others": pooled,
                "n_judged_queries": cv.get("queries"), "relevance_level": first.get("relevance_level", 1),
                "cross_validation": {"folds": cv.get("folds"), "folds_run": cv.get("folds_run")}}}
        return {p.parent.name: json.loads(p.read_text()) for p in sorted(self.path.glob("eval/*/metrics.json"))}

    def per_query(self, name: str) -> pd.DataFrame:
        """``run metric qid value`` rows of one evaluation set (a cross-validation's: every held-out query)."""
        path = self.path / "cv" / "per_query.tsv" if self.is_cv else self.path / "eval" / name / "per_query.tsv"
        return pd.read_csv(path, sep="\t", dtype={"qid": str})

    def swept(self) -> dict[str, str]:
        """``key: value`` of the overrides that are not the experiment (what a sweep varied)."""
        out = {}
        for o in self.overrides():
            key, _, value = o.lstrip("+~").partition("=")
            if key != "experiment" and not key.startswith(("hydra.", "paths.")):
                out[key] = value
        return out


def is_run(path: Path) -> bool:
    """A run dir or record: it has a config, a CSV log, an evaluation or a cross-validation."""
    return path.is_dir() and any((path / rel).exists() for rel in (".hydra/config.yaml", "config.yaml", "run.json",
                                                                   str(METRICS_CSV), str(CV_METRICS))) \
        or bool(list(path.glob("eval/*/metrics.json")))


def find_runs(path: str | Path) -> list[RunDir]:
    """The runs at ``path``: itself if it is a run, else its sub-folders that are (a multirun or sweep folder,
    a folder of records), in name order. A missing path or one with no run is an error."""
    root = Path(path).expanduser()
    if not root.exists():
        raise RunError(f"{root}: no such directory")
    if not root.is_dir():
        raise RunError(f"{root}: not a directory (give a run dir, a record or a multirun folder)")
    if is_run(root):
        return [RunDir(root)]
    runs = [RunDir(p) for p in sorted(root.iterdir(), key=lambda p: (len(p.name), p.name)) if is_run(p)]
    if not runs:
        raise RunError(f"{root}: not a run (no .hydra/config.yaml, config.yaml, run.json, csv/metrics.csv or "
                       "eval/*/metrics.json), nor a folder of runs")
    return runs


def step_series(metrics: pd.DataFrame, column: str) -> pd.DataFrame:
    """``step``, ``epoch`` and ``column`` where ``column`` was logged (Lightning writes one sparse row per log
    call)."""
    if column not in metrics:
        return pd.DataFrame(columns=["step", "epoch", column])
    rows = metrics.dropna(subset=[column])
    epoch = rows["epoch"] if "epoch" in rows else pd.Series(float("nan"), index=rows.index)
    return pd.DataFrame({"step": rows["step"], "epoch": epoch, column: rows[column]})


def loss_column(metrics: pd.DataFrame) -> str | None:
    """The per-step training loss column of a CSV log."""
    return next((c for c in ("train/loss_step", "train/loss") if c in metrics), None)


def lr_column(metrics: pd.DataFrame) -> str | None:
    """The learning-rate column (``train/lr``; ``lr-AdamW`` in runs made with Lightning's LR monitor)."""
    return next((c for c in metrics if c == "train/lr" or c.startswith("lr-")), None)


def val_columns(metrics: pd.DataFrame) -> list[str]:
    """Validation metrics of the reranker (``val/ndcg@10``...), not the first stage's."""
    return [c for c in metrics if c.startswith("val/") and not c.startswith("val/first_stage")]
