"""One comparison table over runs and records: ``crossrank compare DIR... [--metrics ...] [--out FILE]``.

Each DIR is a run dir, a record in ``experiments/``, a cross-validation (its pooled held-out queries), or a folder
of runs (a Hydra multirun, an Optuna sweep). For every evaluation set that all of them have, the table holds the
first stage (from the first run) and every ranking each run holds (reranked; fused and teacher where the recipe
made them, labelled), with ranx's paired test between every two rows (from the per-query values, so records
without run files compare too). Printed, and written as markdown and LaTeX.
"""

from __future__ import annotations

import sys
from typing import Any

from crossrank.errors import ConfigError
from crossrank.tracking.names import UNNAMED
from crossrank.tracking.runs import RANKINGS, RunDir, find_runs


def varied(runs: list[RunDir]) -> list[dict[str, str]]:
    """Per run, the overrides that all the runs set but to different values (what a sweep varied)."""
    swept = [{k: short(v) for k, v in r.swept().items() if not k.startswith(UNNAMED)} for r in runs]
    keys = sorted(set.intersection(*(set(s) for s in swept))) if swept else []
    keys = [k for k in keys if len({s[k] for s in swept}) > 1]
    return [{k: s[k] for k in keys} for s in swept]


def labels(runs: list[RunDir]) -> list[str]:
    """Row names: the folder name (with its parent's where two runs share a name), then what it varied."""
    names = [r.name for r in runs]
    base = [f"{r.path.parent.name}/{r.name}" if names.count(r.name) > 1 else r.name for r in runs]
    return [b + "".join(f" {k}={v}" for k, v in params.items()) for b, params in zip(base, varied(runs))]


def short(value: str) -> str:
    """A number in 3 significant digits (Optuna draws long floats); anything else as it is."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "." not in value and "e" not in value else f"{number:.3g}"


def per_query_values(run: RunDir, name: str) -> dict[str, dict[str, dict[str, float]]]:
    """``{ranking: {metric: {qid: value}}}`` of every ranking an evaluation set holds (``first_stage``,
    ``reranked``, and the fused and teacher runs where there are)."""
    table = run.per_query(name)
    return {str(ranking): {str(m): dict(zip(g["qid"], g["value"].astype(float))) for m, g in rows.groupby("metric")}
            for ranking, rows in table.groupby("run")}


def rows_of(label: str, values: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """A run's rows of the table: its reranked run alone (``label``), or every ranking it holds labelled
    (``label [reranked]``, ``label [fused]``, ``label [teacher]``) when it holds more than one."""
    held = [r for r in RANKINGS if r in values]
    if held == ["reranked"]:
        return {label: values["reranked"]}
    return {f"{label} [{RANKINGS[r]}]": values[r] for r in held}


def shared_sets(runs: list[RunDir]) -> list[str]:
    sets = [set(r.evaluations()) for r in runs]
    shared = sorted(set.intersection(*sets)) if sets else []
    if not shared:
        raise ConfigError("no evaluation set is shared by all runs: " + "; ".join(
            f"{r.path}: {', '.join(sorted(s)) or 'none'}" for r, s in zip(runs, sets)))
    return shared


def compare(dirs: list[str], metrics: list[str] | None = None, stat_test: str = "student",
            max_p: float = 0.05) -> list[dict[str, Any]]:
    """Per shared evaluation set: ``{"set", "report" (ranx Report), "notes"}``."""
    from crossrank.evaluation.report import compare_scores

    runs: list[RunDir] = []
    for d in dirs:
        found = find_runs(d)
        if len(found) > 1:  # a folder of runs: its failed or unevaluated jobs have nothing to compare
            skipped = [r for r in found if not r.evaluations()]
            for r in skipped:
                print(f"skipped {r.path}: no evaluation", file=sys.stderr)
            found = [r for r in found if r.evaluations()]
        runs += found
    names = labels(runs)
    out = []
    for set_name in shared_sets(runs):
        held = [per_query_values(run, set_name) for run in runs]
        values = {"first_stage": held[0]["first_stage"]}
        for label, run_values in zip(names, held):
            values.update(rows_of(label, run_values))
        available = sorted(set.intersection(*(set(v) for v in values.values())))
        chosen = available
        if metrics:
            chosen = [m for m in available for wanted in metrics if m == wanted or m.split("-l")[0] == wanted]
            missing = [w for w in metrics if not any(m == w or m.split("-l")[0] == w for m in available)]
            if missing:
                raise ConfigError(f"--metrics: {', '.join(missing)} not in the results of {set_name} "
                                  f"(they have: {', '.join(available)})")
        report = compare_scores(values, chosen, stat_test=stat_test, max_p=max_p)
        first = runs[0].evaluations()[set_name]
        shared = set.intersection(*(set(v[chosen[0]]) for v in values.values())) if chosen else set()
        units = (f"the mean over {len(shared)} sets all runs have, tested paired by set" if first.get("n_sets")
                 else f"{first.get('n_judged_queries', '?')} judged queries")
        notes = [f"{units}; first stage from {names[0]}; relevance >= {first.get('relevance_level', 1)} counts as "
                 "relevant for binary metrics."]
        if any(h.get("first_stage") != held[0].get("first_stage") for h in held[1:]):  # per query: not the prose
            stages = {label: run.evaluations()[set_name].get("first_stage_name", "?")
                      for label, run in zip(names, runs)}
            warning = f"{set_name}: the runs reranked different first stages (" + "; ".join(
                f"{label}: {stage}" for label, stage in stages.items()) + ")"
            print(f"warning: {warning}", file=sys.stderr)
            notes.append(f"Warning: {warning}.")
        out.append({"set": set_name, "report": report, "notes": notes})
    return out
