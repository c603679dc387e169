"""Comparison reports: ranx's paired significance tests over per-query values, as tables and markdown."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ranx.data_structures import Report
from ranx.statistical_tests import compute_statistical_significance

from crossrank.files import write_text


def compare_scores(per_query: Mapping[str, Mapping[str, Mapping[str, float]]], metrics: list[str],
                   stat_test: str = "student", max_p: float = 0.05) -> Report:
    """ranx's comparison (means, paired test between every two runs, wins/ties/losses) from per-query metric
    values ``{run: {metric: {qid: value}}}``, for results whose run files are not at hand (records).
    Queries are those every run has."""
    names = list(per_query)
    qids = sorted(set.intersection(*(set(per_query[n][m]) for n in names for m in metrics)))
    scores = {n: {m: np.array([per_query[n][m][q] for q in qids], dtype=np.float64) for m in metrics}
              for n in names}
    comparisons = compute_statistical_significance(names, scores, stat_test=stat_test, max_p=max_p)
    wtl = {(a, b): {m: {"W": int((scores[a][m] > scores[b][m]).sum()), "T": int((scores[a][m] == scores[b][m]).sum()),
                        "L": int((scores[a][m] < scores[b][m]).sum())} for m in metrics}
           for a in names for b in names if a != b}
    results = {n: {m: float(scores[n][m].mean()) for m in metrics} for n in names}
    return Report(model_names=names, results=results, comparisons=comparisons, metrics=metrics, max_p=max_p,
                  win_tie_loss=wtl, rounding_digits=4, stat_test=stat_test)


def to_markdown(report: dict, title: str = "", notes: list[str] | None = None) -> str:
    """A markdown table: one row per run; a marker ``ᵃ`` etc. names the runs it beats with p < max_p.
    ``notes`` (how the numbers were made) go between the title and the table."""
    names: list[str] = report["model_names"]
    metrics: list[str] = report["metrics"]
    letters = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"### {title}", ""] if title else []
    for note in notes or []:
        lines += [note, ""]
    lines.append("| # | run | " + " | ".join(metrics) + " |")
    lines.append("|---|---|" + "---:|" * len(metrics))
    for i, name in enumerate(names):
        cells = []
        for m in metrics:
            score = report[name]["scores"][m]
            beats = [letters[j] for j, other in enumerate(names) if other != name
                     and report[name]["comparisons"][other][m] < report["max_p"]
                     and score > report[other]["scores"][m]]
            cells.append(f"{score:.4f}" + (f" <sup>{''.join(beats)}</sup>" if beats else ""))
        lines.append(f"| {letters[i]} | {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Superscripts: significantly better than that run (paired {report['stat_test']} test, "
              f"p < {report['max_p']})."]
    return "\n".join(lines) + "\n"


def to_text(report: dict) -> str:
    """A plain table for the terminal."""
    metrics: list[str] = report["metrics"]
    width = max(len(n) for n in report["model_names"]) + 2
    head = "run".ljust(width) + "".join(m.rjust(14) for m in metrics)
    rows = [head, "-" * len(head)]
    for name in report["model_names"]:
        rows.append(name.ljust(width) + "".join(f"{report[name]['scores'][m]:14.4f}" for m in metrics))
    return "\n".join(rows)


def write_per_query(path: Path, per_query: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
    """TSV ``run metric qid value`` for every run, metric and query (written atomically)."""
    lines = ["run\tmetric\tqid\tvalue\n"]
    for run, metrics in per_query.items():
        for metric, values in metrics.items():
            lines += [f"{run}\t{metric}\t{qid}\t{values[qid]:.6f}\n" for qid in sorted(values)]
    write_text(path, "".join(lines))
