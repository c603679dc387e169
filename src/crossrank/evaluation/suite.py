"""A suite of evaluation sets (NanoBEIR): the mean over its sets, the number people quote, written as one more
evaluation in ``OUT/eval/<suite>/`` beside the sets' own. The mean is over sets (each set counts once, whatever
its number of queries); ``per_query.tsv`` holds one value per set, so that comparisons of two runs on a suite
are paired by set; the report has one row per set, with each set's own paired test against the first stage."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from crossrank.evaluation.report import compare_scores, to_markdown, to_text, write_per_query
from crossrank.evaluation.spec import REPORT_FILES, SUITE_RANKINGS, EvalSet
from crossrank.files import json_safe, write_json, write_text


def suites_of(specs: list[EvalSet]) -> dict[str, list[EvalSet]]:
    """``{suite: its member sets}``."""
    suites: dict[str, list[EvalSet]] = {}
    for spec in specs:
        if spec.suite:
            suites.setdefault(spec.suite, []).append(spec)
    return suites


def forget_suites(specs: list[EvalSet], out_root: Path) -> None:
    """Before a suite is evaluated again: remove its reports, and those of earlier members it no longer has (a
    smaller ``eval.sets``), so that no figure of another model or selection looks like this run's."""
    for suite, members in suites_of(specs).items():
        names = {spec.name for spec in members}
        stale = [d for d in (out_root / "eval").glob(f"{suite}_*") if d.is_dir() and d.name not in names]
        for folder in [out_root / "eval" / suite, *stale]:
            for name in REPORT_FILES:
                (folder / name).unlink(missing_ok=True)


def summarize_suites(specs: list[EvalSet], results: dict[str, Any], out_root: Path) -> dict[str, Any]:
    """``{suite: metrics.json}`` for every suite all of whose sets were evaluated."""
    return {suite: summarize(suite, {spec.name: results[spec.name] for spec in members}, out_root / "eval" / suite,
                             members[0].stat_test, members[0].max_p)
            for suite, members in suites_of(specs).items() if all(spec.name in results for spec in members)}


def summarize(suite: str, members: dict[str, dict[str, Any]], out: Path, stat_test: str = "student",
              max_p: float = 0.05) -> dict[str, Any]:
    """The suite's ``metrics.json`` (means over ``members``, and each member's figures), report and per-set
    values, written to ``out``; the sets' paired test by ``stat_test`` at ``max_p``."""
    first = next(iter(members.values()))
    metrics = [m for m in first["reranked"] if all(m in r["reranked"] for r in members.values())]
    runs = [run for run in SUITE_RANKINGS if all(r.get(run) for r in members.values())]
    short = {name: name.removeprefix(f"{suite}_") for name in members}
    per_set = {run: {m: {short[n]: members[n][run][m] for n in members} for m in metrics} for run in runs}
    means = {run: {m: _mean(per_set[run][m].values()) for m in metrics} for run in runs}
    out.mkdir(parents=True, exist_ok=True)
    write_per_query(out / "per_query.tsv", per_set)
    report = compare_scores(per_set, metrics, stat_test, max_p).to_dict() | {"max_p": max_p}
    seconds = sum(r.get("rerank_seconds") or 0 for r in members.values())
    scored = sum(r.get("scored_pairs") or 0 for r in members.values())
    payload = json_safe({
        **means, "suite": suite, "sets": list(short.values()),
        "per_set": {short[n]: {**{run: r[run] for run in runs}, "significance": r.get("significance"),
                               "n_queries": r["n_queries"], "n_pairs": r["n_pairs"]} for n, r in members.items()},
        "n_sets": len(members), "n_queries": sum(r["n_queries"] for r in members.values()),
        "n_judged_queries": sum(r["n_judged_queries"] for r in members.values()),
        "n_pairs": sum(r["n_pairs"] for r in members.values()), "depth": first["depth"],
        "relevance_level": first["relevance_level"], "max_length": first["max_length"], "model": first["model"],
        "model_digest": first["model_digest"], "backend": first["backend"],
        "pairs_per_second": round(scored / seconds, 2) if scored and seconds else None, "scored_pairs": scored,
        "rerank_seconds": round(seconds, 2),
        "significance_over_sets": {m: report["reranked"]["comparisons"]["first_stage"][m] for m in metrics},
    })
    write_text(out / "report.md", table(suite, payload, metrics, runs) + "\n" + to_markdown(
        report, f"{suite}: the sets as units ({len(members)} sets)"))
    write_json(out / "metrics.json", payload)
    print(f"\n{suite}: mean over {len(members)} set{'s' if len(members) > 1 else ''}\n{to_text(report)}")
    return payload


def table(suite: str, payload: dict[str, Any], metrics: list[str], runs: list[str]) -> str:
    """One row per set and a mean row: each ranking's first metrics, and the set's paired test (over its
    queries) of the reranker against the first stage."""
    shown = metrics[:2]
    head = " | ".join(f"{run} {m}" for run in runs for m in shown)
    lines = [f"### {suite}: per set and mean", "", f"| set | queries | {head} | p ({shown[0]}) |",
             "|---|---:|" + "---:|" * (len(runs) * len(shown) + 1)]
    for name, values in payload["per_set"].items():
        cells = [_cell(values[run].get(m)) for run in runs for m in shown]
        p = (values.get("significance") or {}).get(shown[0])
        lines.append(f"| {name} | {values['n_queries']} | " + " | ".join(cells) + f" | {_cell(p)} |")
    lines.append(f"| **mean** | {payload['n_queries']} | "
                 + " | ".join(f"**{_cell(payload[run][m])}**" for run in runs for m in shown) + " | |")
    return "\n".join(lines) + "\n"


def _mean(values: Any) -> float:
    """The mean over every set; NaN when a set has no value (never a mean over fewer sets than it says)."""
    values = list(values)
    if not values or any(v is None or math.isnan(v) for v in values):
        return math.nan
    return sum(values) / len(values)


def _cell(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
