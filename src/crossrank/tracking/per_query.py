"""Per-query analysis of one evaluation set of a run or record (what ``per_query_analysis.ipynb`` shows):
reranked against first stage per query, the gain against query length and first-stage recall, and the
passages behind the largest losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pandas as pd

from crossrank.data.trec import order_key
from crossrank.errors import ConfigError
from crossrank.tracking.runs import RunDir, find_runs


def _run(path: str | Path) -> RunDir:
    runs = find_runs(path)
    if len(runs) != 1:
        raise ConfigError(f"{path}: a folder of {len(runs)} runs; give one run dir or record")
    return runs[0]


def source_of(run: RunDir, set_name: str):
    """The evaluation set's data source, as the run's config names it (relative paths from where it ran)."""
    from omegaconf import OmegaConf

    from crossrank.evaluation.spec import EvalSet

    config = run.config()
    specs = [config.get("eval") or {}, *(config.get("extra_eval") or {}).values()]
    cwd = Path(run.info().get("cwd") or ".")
    for values in specs:
        if not values or "kind" not in values:
            continue
        spec = EvalSet(**cast(dict, OmegaConf.to_container(OmegaConf.create(values), resolve=False)))
        if spec.name == set_name:
            for key in ("path", "run_path"):
                value = getattr(spec, key)
                if value and not Path(value).is_absolute():
                    setattr(spec, key, str(cwd / value))
            return spec.source()
    raise ConfigError(f"{run.path}: no evaluation set {set_name!r} in its config")


def load(path: str | Path, set_name: str | None = None, metric: str = "ndcg@10") -> pd.DataFrame:
    """One row per judged query: first-stage and reranked ``metric``, gain, outcome, query length and the
    first stage's recall of the relevant passages (the most the reranker can bring up)."""
    run = _run(path)
    evaluations = run.evaluations()
    if not evaluations:
        raise ConfigError(f"{run.path}: no evaluation set")
    set_name = set_name or next(iter(evaluations))
    if set_name not in evaluations:
        raise ConfigError(f"{run.path}: no evaluation set {set_name!r} (it has {', '.join(evaluations)})")
    rows = run.per_query(set_name)
    names = sorted(set(rows["metric"]))
    chosen = next((m for m in names if m == metric or m.split("-l")[0] == metric), None)
    if chosen is None:
        raise ConfigError(f"metric {metric!r} is not among {set_name}'s per-query metrics ({', '.join(names)})")
    wide = rows[rows["metric"] == chosen].pivot(index="qid", columns="run", values="value")
    table = pd.DataFrame({"first_stage": wide["first_stage"], "reranked": wide["reranked"]})
    table["gain"] = table["reranked"] - table["first_stage"]
    table["outcome"] = ["win" if g > 1e-9 else "loss" if g < -1e-9 else "tie" for g in table["gain"]]
    table.attrs.update(metric=chosen, set=set_name)
    try:
        source = source_of(run, set_name)
        queries = source.queries()
        qrels = source.qrels()
    except Exception as e:  # noqa: BLE001 - the data may not be on this machine
        table["query"], table["query_words"], table["first_stage_recall"] = None, float("nan"), float("nan")
        table.attrs["note"] = f"texts unavailable: {e}"
        return table.reset_index()
    level = int(evaluations[set_name].get("relevance_level") or 1)
    depth = evaluations[set_name].get("depth")
    candidates = first_stage_lists(run, set_name, source)
    table["query"] = [queries.get(q, "") for q in table.index]
    table["query_words"] = [len(queries.get(q, "").split()) for q in table.index]
    recall = {}
    for qid in table.index:
        relevant = {p for p, r in qrels.get(qid, {}).items() if r >= level}
        ranked = [p for p, _ in candidates.get(qid, [])][:depth]
        recall[qid] = len(relevant & set(ranked)) / len(relevant) if relevant else float("nan")
    table["first_stage_recall"] = pd.Series(recall)
    return table.reset_index()


def first_stage_lists(run: RunDir, set_name: str, source: Any = None) -> dict[str, list[tuple[str, float]]]:
    """First-stage candidates per query, best first: from the run's score shards, else (a record) from the
    set's own run file."""
    from crossrank.evaluation.candidates import is_injected
    from crossrank.evaluation.rerank import iter_shard_rows

    out: dict[str, list[tuple[str, float]]] = {}
    for qid, pid, first, _ in iter_shard_rows(run.path / "eval" / set_name / "shards"):
        if not is_injected(first):  # a judged positive added after the first stage (eval.rerank_positives)
            out.setdefault(qid, []).append((pid, first))
    if not out and source is not None and source.has_run():
        from crossrank.data.trec import group_run

        return group_run(source.iter_run())
    for items in out.values():
        items.sort(key=order_key, reverse=True)
    return out


def summary(table: pd.DataFrame) -> str:
    counts = table["outcome"].value_counts()
    return (f"{table.attrs.get('set')} {table.attrs.get('metric')}: {len(table)} queries, {counts.get('win', 0)} "
            f"wins, {counts.get('loss', 0)} losses, {counts.get('tie', 0)} ties; mean gain "
            f"{table['gain'].mean():+.4f}" + (f" ({table.attrs['note']})" if table.attrs.get("note") else ""))


def plot_gains(table: pd.DataFrame):
    """Gain per query against query length (words) and against first-stage recall."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4))
    by_length, by_recall = fig.subplots(1, 2, sharey=True)
    colors = table["outcome"].map({"win": "C2", "loss": "C3", "tie": "C7"})
    by_length.scatter(table["query_words"], table["gain"], c=colors, s=18)
    by_recall.scatter(table["first_stage_recall"], table["gain"], c=colors, s=18)
    metric = table.attrs.get("metric", "metric")
    by_length.set(xlabel="query length (words)", ylabel=f"reranked - first stage ({metric})",
                  title="gain against query length")
    by_recall.set(xlabel="first-stage recall of the relevant passages", title="gain against first-stage recall")
    for ax in (by_length, by_recall):
        ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def read_trec(path: Path) -> dict[str, list[str]]:
    """A TREC run file's ranking per query (file order)."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        qid, _, pid, *_ = line.split()
        out.setdefault(qid, []).append(pid)
    return out


def largest_losses(path: str | Path, table: pd.DataFrame, n: int = 3) -> list[str]:
    """For the ``n`` largest losses: the reranker's first passage and the best-judged one, with ranks."""
    run = _run(path)
    set_name = table.attrs["set"]
    run_file = run.path / "eval" / set_name / "run.trec"
    if not run_file.is_file():
        return [f"no {run_file.name} in {run_file.parent}: rankings unavailable"]
    try:
        source = source_of(run, set_name)
        qrels = source.qrels()
    except Exception as e:  # noqa: BLE001
        return [f"texts unavailable: {e}"]
    reranked = read_trec(run_file)
    first = {q: [p for p, _ in items] for q, items in first_stage_lists(run, set_name, source).items()}
    cases = []
    for _, row in table.sort_values("gain").head(n).iterrows():
        qid = row["qid"]
        judged = qrels.get(qid, {})
        ranking = reranked.get(qid, [])
        best = max((p for p in ranking if judged.get(p, 0) > 0), key=lambda p: judged[p], default=None)
        top = ranking[0] if ranking else None
        texts: dict[str, Any] = source.passages([p for p in (top, best) if p])

        def rank(order: list[str], pid: str | None) -> str:
            return str(order.index(pid) + 1) if pid in order else "-"

        shown = top or ""
        lines = [f"query {qid} ({row['gain']:+.3f}): {row.get('query') or ''}",
                 f"  reranked #1: {top} (judged {judged.get(shown, 'no')}, first stage "
                 f"#{rank(first.get(qid, []), top)}): {texts.get(shown, '')[:300]}"]
        if best is not None:
            lines.append(f"  best judged: {best} (grade {judged[best]}, reranked #{rank(ranking, best)}, first stage "
                         f"#{rank(first.get(qid, []), best)}): {texts.get(best, '')[:300]}")
        cases.append("\n".join(lines))
    return cases
