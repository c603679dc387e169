"""One evaluation set end to end: first stage -> rerank -> ranx metrics -> files in ``OUT/eval/<set>/``."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.data.candidates import first_stage
from crossrank.data.sources import Source, graded_level_warning
from crossrank.data.trec import Qrels, RunRow, read_run, trec_lines
from crossrank.errors import DataError
from crossrank.evaluation.metrics import RunDict, evaluate_run, rows_to_run
from crossrank.evaluation.report import compare_scores, to_markdown, to_text, write_per_query
from crossrank.evaluation.rerank import iter_query_chunks, iter_shard_rows, rerank, shard_files
from crossrank.evaluation.spec import EvalSet
from crossrank.files import atomic_path, json_safe, write_json, write_text
from crossrank.models.scorer import CrossEncoderScorer

log = logging.getLogger(__name__)

__all__ = ["EvalSet", "candidate_rows", "evaluate_set", "score_per_query"]


def candidate_rows(source: Source, spec: EvalSet) -> Iterator[RunRow]:
    """The first-stage rows to rerank: the source's run (streamed) or BM25 over its collection."""
    if source.has_run():
        return source.iter_run()
    candidates = first_stage(source, None, spec.depth or 1000, spec.bm25_k1, spec.bm25_b)
    return ((q, p, s) for q, items in candidates.items() for p, s in items)


def score_per_query(shards: Path, qrels: Qrels, names: list[str], others: dict[str, RunDict],
                    run_file: Path, chunk: int = 1000, alpha: float | None = None,
                    teacher: RunDict | None = None, beta: float = 0.0) -> dict[str, dict[str, dict[str, float]]]:
    """``{run: {metric: {qid: value}}}`` for the first stage, the reranked run and any other runs, computed a
    few thousand queries at a time (memory does not grow with the candidate count); writes the reranked TREC
    run file on the way (atomically). Judged queries without candidates score 0, as in trec_eval. With
    ``alpha``, the run ``interpolated`` (:func:`crossrank.evaluation.fusion.interpolate`, with ``teacher``
    at weight ``beta``) is scored too and written beside ``run_file`` as ``run.interpolated.trec``."""
    from crossrank.evaluation.fusion import interpolate

    names_of_runs = ["first_stage", "reranked", *(["interpolated"] if alpha is not None else []), *others]
    per_query: dict[str, dict[str, dict[str, float]]] = {r: {m: {} for m in names} for r in names_of_runs}
    seen: set[str] = set()

    def add(runs: dict[str, RunDict], qids) -> None:
        judged = {q: qrels[q] for q in qids if qrels.get(q)}
        if not judged:
            return
        for name, run in runs.items():
            _, values = evaluate_run(judged, run, names, name)
            for m in names:
                per_query[name][m].update(values[m])

    with contextlib.ExitStack() as files:
        f = files.enter_context(files.enter_context(atomic_path(run_file)).open("w", encoding="utf-8"))
        g = files.enter_context(files.enter_context(atomic_path(run_file.with_name("run.interpolated.trec")))
                                .open("w", encoding="utf-8")) if alpha is not None else None
        for first, reranked in iter_query_chunks(shards, chunk):
            seen.update(first)
            f.writelines(trec_lines(reranked, "crossrank"))
            mixed = {}
            if g is not None and alpha is not None:
                chunk_teacher = None if teacher is None else {q: teacher[q] for q in reranked}
                mixed = {"interpolated": interpolate(reranked, first, alpha, chunk_teacher, beta)}
                g.writelines(trec_lines(mixed["interpolated"], f"crossrank-interpolated-{alpha}"))
            add({"first_stage": first, "reranked": reranked, **mixed,
                 **{n: {q: other[q] for q in first if q in other} for n, other in others.items()}}, list(first))
    missing = [q for q in qrels if q not in seen]
    add({name: ({q: others[name][q] for q in missing if q in others[name]} if name in others else {})
         for name in names_of_runs}, missing)
    return per_query


def teacher_run(spec: EvalSet, source: Source, shards: Path, out: Path) -> RunDict:
    """``spec.teacher``'s scores of exactly the reranked pairs, also written as ``out/run.teacher.trec``; the
    passage texts are fetched one score shard at a time, as the reranker's were."""
    from crossrank.models.teachers import load_teacher, score_pairs

    fn, tag = load_teacher(spec.teacher or "", "eval.teacher")
    queries = source.queries()
    run: RunDict = {}
    for shard in shard_files(shards):
        pairs = [(qid, pid) for qid, pid, _, _ in iter_shard_rows(shard)]
        for qid, scores in score_pairs(fn, pairs, queries, source.passages({pid for _, pid in pairs})).items():
            run.setdefault(qid, {}).update(scores)
    write_text(out / "run.teacher.trec", "".join(trec_lines(run, f"teacher-{tag}")))
    return run


#: What an evaluation writes beside its score shards: removed when it starts again, so no file of an earlier
#: model or setting is left beside the new scores if this one is cut short.
OUTPUTS = ("metrics.json", "report.md", "report.json", "per_query.tsv", "run.trec", "run.interpolated.trec",
           "run.teacher.trec")


def model_line(model_id: str | None, digest: object) -> str:
    """The model of a report: the folder that loads it again (None: not exported) and its weights' digest."""
    where = f"Model `{model_id}`" if model_id else "The model (not exported)"
    return f"{where}, weights digest `{digest}`"


def settings_line(spec: EvalSet, level: int, max_length: int, model: str, backend: str = "torch") -> str:
    """How the numbers were made, in one sentence for reports."""
    depth = "all candidates" if spec.depth is None else f"the top {spec.depth} candidates"
    return (f"{model} reranked {depth} per query at max_length {max_length} (backend {backend}). "
            "Binary metrics (MRR, MAP, "
            f"recall) count relevance >= {level} as relevant; nDCG uses the graded judgments.")


def evaluate_set(scorer: CrossEncoderScorer, spec: EvalSet, out_root: str | Path, model_id: str | None = None,
                 progress: bool = True, rank: int = 0, world_size: int = 1,
                 barrier: Callable[[], None] | None = None, key: dict[str, object] | None = None
                 ) -> dict[str, Any] | None:
    """Rerank and evaluate one set; write its files; return the content of ``metrics.json``. ``model_id``: the
    folder or Hub id that loads the scored model again (None: it was not exported); reports name it and the
    digest of its weights.

    The judgments and the first row of the run are read before anything is written, so bad input
    leaves no output folder behind.
    """
    source = spec.source()
    qrels = source.qrels()
    keep = set(spec.queries) if spec.queries is not None else None
    if keep is not None:
        qrels = {q: judged for q, judged in qrels.items() if q in keep}
    level = spec.level(source)
    names = spec.metric_names(source)
    warning = graded_level_warning(qrels, level, f"eval {spec.name}", "eval.relevance_level=2") if rank == 0 \
        else None
    rows = candidate_rows(source, spec)
    if keep is not None:
        rows = (r for r in rows if r[0] in keep)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{spec.name}: no candidates to rerank (empty run)")
    rows = itertools.chain([first], rows)

    out = Path(out_root) / "eval" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    if rank == 0:
        for name in OUTPUTS:  # never leave an old, complete-looking result beside new shards
            (out / name).unlink(missing_ok=True)
    result = rerank(source, scorer, out, rows, spec.depth, spec.batch_size, spec.shard_size, rank, world_size,
                    progress, barrier, key)
    if result is None:
        return None
    others = {name: rows_to_run(read_run(Path(path), source.queries()))
              for name, path in spec.compare_runs.items()}
    teacher = teacher_run(spec, source, result.shards, out) if spec.teacher else None
    if teacher is not None:
        others["teacher"] = teacher
    alpha = spec.interpolate if isinstance(spec.interpolate, int | float) else None
    beta = float(spec.teacher_weight or 0.0) if teacher is not None else 0.0
    per_query = score_per_query(result.shards, qrels, names, others, out / "run.trec", alpha=alpha,
                                teacher=teacher, beta=beta)
    means = {name: {m: float(np.mean(list(values[m].values()))) if values[m] else float("nan") for m in names}
             for name, values in per_query.items()}
    report = compare_scores(per_query, names, spec.stat_test, spec.max_p).to_dict() | {"max_p": spec.max_p}
    digest = result.key["weights"]
    settings = settings_line(spec, level, scorer.max_length, model_line(model_id, digest),
                             getattr(scorer, "backend", "torch"))
    write_per_query(out / "per_query.tsv", per_query)
    title = f"{spec.name}: {result.n_pairs} pairs, {len(qrels)} judged queries"
    notes = [settings] + ([f"Warning: {warning}."] if warning else [])
    write_text(out / "report.md", to_markdown(report, title, notes))
    write_json(out / "report.json", report)
    n_queries = sum(1 for _ in itertools.groupby(iter_shard_rows(result.shards), key=lambda r: r[0]))
    print(f"\n{spec.name} ({n_queries} queries, {result.n_pairs} pairs, "
          f"{result.pairs_per_second:.1f} pairs/s; relevance >= {level} is relevant, max_length "
          f"{scorer.max_length})\n{to_text(report)}")
    payload = json_safe({
        "first_stage": means["first_stage"], "reranked": means["reranked"],
        "n_queries": n_queries, "n_pairs": result.n_pairs,
        "n_judged_queries": len(qrels), "depth": spec.depth, "relevance_level": level,
        "max_length": scorer.max_length, "model": model_id, "model_digest": digest,
        "backend": getattr(scorer, "backend", "torch"),
        "compiled": bool(getattr(scorer, "compiled", False)),
        "cudnn_attention": bool(getattr(scorer, "cudnn_attention", False)),
        "pairs_per_second": round(result.pairs_per_second, 2), "scored_pairs": result.scored_pairs,
        "rerank_seconds": round(result.seconds, 2),
        "interpolated": means.get("interpolated"),
        "interpolation": None if alpha is None else {"alpha": alpha, "chosen": spec.interpolation_note,
                                                     **({"teacher": spec.teacher, "teacher_weight": beta}
                                                        if teacher is not None else {})},
        "others": {n: m for n, m in means.items() if n not in ("first_stage", "reranked", "interpolated")},
        "significance": {m: report["reranked"]["comparisons"]["first_stage"][m] for m in names},
        "warnings": [warning] if warning else [],
    })  # missing values (a p-value of identical runs, pairs/s of a resumed run) are None, as in the file
    write_json(metrics_path, payload)
    return payload
