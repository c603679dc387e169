"""k-fold cross-validation over one local dataset's queries: train on k-1 folds' judged pairs, rerank the held-out
fold's candidates, and report per-fold and pooled metrics (ranx, paired tests over every query).

    python train.py +experiment=local_cpu_cv data.path=DIR [cv.folds=5]

Fold ``k`` trains in ``OUT/fold<k>/`` (a complete run: checkpoints, logs, ``eval/fold<k>/``); ``OUT/cv/`` holds
``report.md``, ``metrics.json`` (per fold, their mean and the pooled comparison) and ``per_query.tsv``.
No query of a held-out fold is trained or validated on: its queries are excluded from the pairs
(``data.pairs.exclude_queries``) and only they are reranked (``eval.queries``).
"""

from __future__ import annotations

import copy
import logging
import random
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from crossrank.errors import ConfigError
from crossrank.evaluation.spec import RANKINGS

log = logging.getLogger(__name__)


def assign_folds(qids: list[str], folds: int, seed: int) -> list[list[str]]:
    """``qids`` shuffled with ``seed`` and dealt into ``folds`` folds (sizes differ by at most one)."""
    if folds < 2 or folds > len(qids):
        raise ConfigError(f"cv.folds: {folds} folds need 2 to {len(qids)} (the judged queries)")
    order = sorted(qids)
    random.Random(seed).shuffle(order)
    return [sorted(order[k::folds]) for k in range(folds)]


def fold_config(cfg: DictConfig, k: int, held_out: list[str], out: Path) -> DictConfig:
    """The run config of fold ``k``: its own output folder, the held-out queries out of training and alone in
    evaluation (a set named ``fold<k>``)."""
    fold = copy.deepcopy(cfg)
    with open_dict(fold):
        fold.paths.output_dir = str(out / f"fold{k}")
        fold.data.pairs.exclude_queries = list(held_out)
        fold.eval.queries = list(held_out)
        fold.eval.name = f"fold{k}"
        fold.cv = None
        fold.pop("extra_eval", None)
    return fold


def save_config(cfg: DictConfig, out: Path) -> None:
    """A fold's composed config where Hydra keeps a run's (``.hydra/config.yaml``), so that records and
    comparisons of the fold know it as they know any run's."""
    from crossrank.files import write_text

    write_text(out / ".hydra" / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))


def cross_validate(cfg: DictConfig) -> dict[str, Any]:
    """Run every fold (``cv.fold`` set: that fold only) and write ``OUT/cv/``; returns its ``metrics.json``."""
    from crossrank.data.sources import load_source
    from crossrank.training.run import train

    if OmegaConf.select(cfg, "eval.kind") != "local" or not OmegaConf.select(cfg, "eval.path"):
        raise ConfigError("cv: the folds are reranked from a local eval set (eval=local eval.path=DIR, the "
                          "training folder)")
    if str(Path(cfg.eval.path).expanduser().resolve()) != str(Path(cfg.data.path).expanduser().resolve()):
        raise ConfigError(f"cv: eval.path ({cfg.eval.path}) must be data.path ({cfg.data.path}): the folds split one "
                          "dataset's queries")
    out = Path(cfg.paths.output_dir)
    source = load_source(kind="local", path=cfg.data.path)
    qrels = source.qrels()
    folds = assign_folds([q for q, judged in qrels.items() if judged], int(cfg.cv.folds), int(cfg.cv.seed))
    only = cfg.cv.get("fold")
    results: dict[int, dict[str, Any]] = {}
    for k, held_out in enumerate(folds):
        if only is not None and k != int(only):
            continue
        log.info("cv: fold %d of %d, %d held-out queries", k, len(folds), len(held_out))
        print(f"\n=== cv fold {k} of {len(folds)} ({len(held_out)} held-out queries) ===")
        fold = fold_config(cfg, k, held_out, out)
        save_config(fold, Path(fold.paths.output_dir))
        result = train(fold)
        results[k] = result[f"fold{k}"]
    return summarize(out, folds, results, cfg)


def summarize(out: Path, folds: list[list[str]], results: dict[int, dict[str, Any]], cfg: DictConfig) -> dict:
    """Per-fold metrics, their mean, and ranx's comparison over the pooled per-query values of all folds run."""
    import pandas as pd

    from crossrank.evaluation.report import compare_scores, to_markdown, to_text, write_per_query
    from crossrank.files import json_safe, write_json, write_text

    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for k in results:
        table = pd.read_csv(out / f"fold{k}" / "eval" / f"fold{k}" / "per_query.tsv", sep="\t", dtype={"qid": str})
        for (run, metric), rows in table.groupby(["run", "metric"]):
            per_query.setdefault(run, {}).setdefault(metric, {}).update(dict(zip(rows["qid"], rows["value"])))
    metrics = list(next(iter(results.values()))["reranked"]) if results else []
    runs = [r for r in RANKINGS if r in per_query]
    per_query = {r: per_query[r] for r in runs}
    report = compare_scores(per_query, metrics, str(cfg.eval.stat_test), float(cfg.eval.max_p)).to_dict() \
        | {"max_p": float(cfg.eval.max_p)}
    fold_rows: dict[int, dict[str, Any]] = {
        k: {r: results[k].get(r) or (results[k].get("others") or {}).get(r) for r in runs}
        | {"n_queries": len(folds[k]), "interpolation": results[k].get("interpolation")} for k in results}
    mean = {r: {m: sum(fold_rows[k][r][m] for k in results) / len(results) for m in metrics}
            for r in runs if all(fold_rows[k].get(r) for k in results)}
    payload = json_safe({"set": Path(str(cfg.data.path)).name, "folds": len(folds), "folds_run": sorted(results),
                         "per_fold": fold_rows,
                         "mean_of_folds": mean, "pooled": {r: report[r]["scores"] for r in runs},
                         "significance": {m: report["reranked"]["comparisons"]["first_stage"][m] for m in metrics},
                         "queries": sum(len(folds[k]) for k in results)})
    cv_dir = out / "cv"
    cv_dir.mkdir(parents=True, exist_ok=True)
    write_per_query(cv_dir / "per_query.tsv", per_query)
    lines = [f"| fold | queries | {' | '.join(f'{r} {m}' for r in runs for m in metrics[:2])} |",
             "|---:|---:|" + "---:|" * (len(runs) * min(2, len(metrics)))]
    for k in sorted(results):
        cells = [f"{fold_rows[k][r][m]:.4f}" for r in runs for m in metrics[:2]]
        lines.append(f"| {k} | {len(folds[k])} | " + " | ".join(cells) + " |")
    if mean:
        lines.append("| mean | | " + " | ".join(f"{mean[r][m]:.4f}" for r in runs if r in mean
                                                 for m in metrics[:2]) + " |")
    title = f"{len(results)} of {len(folds)} folds, {payload['queries']} held-out queries, pooled"
    write_text(cv_dir / "report.md", "## Per fold\n\n" + "\n".join(lines) + "\n\n" + to_markdown(report, title))
    write_json(cv_dir / "metrics.json", payload)
    print(f"\ncross-validation ({title})\n{to_text(report)}\nper fold:\n" + "\n".join(lines)
          + f"\nresults in {cv_dir}")
    return payload
