"""One evaluation set end to end: first stage -> rerank -> ranx metrics -> files in ``OUT/eval/<set>/``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank.data.candidates import first_stage, order_key
from crossrank.data.sources import RunRow, Source, load_source, read_trec_run
from crossrank.evaluation.metrics import BASE_METRICS, evaluate_run, metric_names, rows_to_run
from crossrank.evaluation.report import compare_runs, to_markdown, to_text, write_per_query
from crossrank.evaluation.rerank import rerank
from crossrank.scorer import CrossEncoderScorer

log = logging.getLogger(__name__)


@dataclass
class EvalSet:
    """An evaluation set (config group ``eval``).

    ``kind``: ``local`` (``path``: an irdata-format folder) or ``ir_datasets`` (``dataset_id``). The first
    stage is ``run_path`` if given, else the source's run (``run.tsv`` / scoreddocs), else BM25 top
    ``depth`` over the collection. ``depth: null`` reranks every candidate.
    """

    name: str
    kind: str = "local"
    path: str | None = None
    dataset_id: str | None = None
    run_path: str | None = None
    depth: int | None = 100
    relevance_level: int = 1
    metrics: list[str] = field(default_factory=lambda: list(BASE_METRICS))
    batch_size: int = 64
    shard_size: int = 50_000
    compare_runs: dict[str, str] = field(default_factory=dict)
    stat_test: str = "student"
    max_p: float = 0.05
    bm25_k1: float = 0.9
    bm25_b: float = 0.4

    def __post_init__(self) -> None:
        if not self.name:
            self.name = Path(self.path).name if self.kind == "local" and self.path else \
                str(self.dataset_id or "eval").replace("/", "_")

    def source(self) -> Source:
        return load_source(self.kind, self.path, self.dataset_id, self.run_path, self.name)


def candidate_rows(source: Source, spec: EvalSet) -> Iterator[RunRow]:
    """The first-stage rows to rerank: the source's run (streamed) or BM25 over its collection."""
    if source.has_run():
        return source.iter_run()
    candidates = first_stage(source, None, spec.depth or 1000, spec.bm25_k1, spec.bm25_b)
    return ((q, p, s) for q, items in candidates.items() for p, s in items)


def write_trec(path: Path, run: dict[str, dict[str, float]], tag: str) -> None:
    """A TREC run file, each query in trec_eval's order (score desc, pid desc)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for qid in sorted(run):
            ordered = sorted(run[qid].items(), key=order_key, reverse=True)
            for rank, (pid, score) in enumerate(ordered, start=1):
                f.write(f"{qid} Q0 {pid} {rank} {score:.6f} {tag}\n")
    os.replace(tmp, path)


def evaluate_set(scorer: CrossEncoderScorer, spec: EvalSet, out_root: str | Path, model_id: str = "model",
                 progress: bool = True, rank: int = 0, world_size: int = 1,
                 barrier: Callable[[], None] | None = None) -> dict[str, Any] | None:
    """Rerank and evaluate one set; write its files; return the content of ``metrics.json``."""
    out = Path(out_root) / "eval" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    if rank == 0 and metrics_path.exists():
        metrics_path.unlink()  # never leave an old, complete-looking result beside new shards
    names = metric_names(spec.depth, spec.relevance_level, spec.metrics)
    source = spec.source()
    qrels = source.qrels()
    result = rerank(source, scorer, out, candidate_rows(source, spec), spec.depth, spec.batch_size,
                    spec.shard_size, model_id, rank, world_size, progress, barrier)
    if result is None:
        return None
    runs = {"first_stage": result.first_stage, "reranked": result.reranked}
    for name, path in spec.compare_runs.items():
        runs[name] = rows_to_run(read_trec_run(Path(path), source.queries()))
    means: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for name, run in runs.items():
        means[name], per_query[name] = evaluate_run(qrels, run, names, name)
    report = compare_runs(qrels, runs, names, spec.stat_test, spec.max_p)
    write_trec(out / "run.trec", result.reranked, "crossrank")
    write_per_query(out / "per_query.tsv", per_query)
    (out / "report.md").write_text(to_markdown(report, f"{spec.name}: {result.n_pairs} pairs, "
                                               f"{len(qrels)} judged queries"), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\n{spec.name} ({len(result.reranked)} queries, {result.n_pairs} pairs, "
          f"{result.pairs_per_second:.1f} pairs/s)\n{to_text(report)}")
    payload = {
        "first_stage": means["first_stage"], "reranked": means["reranked"],
        "n_queries": len(result.reranked), "n_pairs": result.n_pairs,
        "n_judged_queries": len(qrels), "depth": spec.depth, "relevance_level": spec.relevance_level,
        "pairs_per_second": round(result.pairs_per_second, 2), "scored_pairs": result.scored_pairs,
        "rerank_seconds": round(result.seconds, 2),
        "others": {n: m for n, m in means.items() if n not in ("first_stage", "reranked")},
        "significance": {m: report["reranked"]["comparisons"]["first_stage"][m] for m in names},
    }
    tmp = metrics_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    os.replace(tmp, metrics_path)
    return payload
