"""One evaluation set end to end: first stage -> rerank -> ranx metrics -> files in ``OUT/eval/<set>/``; and
every configured set in turn, with the mean of each suite (:mod:`crossrank.evaluation.suite`)."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.data.sources import Source, graded_level_warning
from crossrank.data.trec import Qrels, RunRow, read_run, trec_lines
from crossrank.errors import DataError
from crossrank.evaluation.candidates import CandidateRows, is_injected
from crossrank.evaluation.metrics import RunDict, evaluate_run, rows_to_run
from crossrank.evaluation.report import compare_scores, to_markdown, to_text, write_per_query
from crossrank.evaluation.rerank import RerankResult, iter_query_chunks, iter_shard_rows, rerank, shard_files
from crossrank.evaluation.spec import RANKINGS, REPORT_FILES, RUN_FILES, EvalSet
from crossrank.evaluation.suite import forget_suites, summarize_suites
from crossrank.files import atomic_path, json_safe, write_json, write_text
from crossrank.models.scorer import CrossEncoderScorer

log = logging.getLogger(__name__)

__all__ = ["EvalSet", "evaluate_set", "evaluate_sets", "score_per_query"]

#: What an evaluation writes beside its score shards: removed when it starts again, so no file of an earlier
#: model or setting is left beside the new scores if this one is cut short.
OUTPUTS = REPORT_FILES + RUN_FILES
#: The rankings stored at the top level of ``metrics.json`` (others, the teacher's and compared runs, go under
#: ``others``).
TOP_LEVEL = tuple(r for r in RANKINGS if r != "teacher")


def evaluate_sets(scorer: CrossEncoderScorer, specs: list[EvalSet], out_root: str | Path,
                  model_id: str | None = None, progress: bool = True, rank: int = 0, world_size: int = 1,
                  barrier: Callable[[], None] | None = None, key: dict[str, object] | None = None,
                  before: Callable[[EvalSet], None] | None = None) -> dict[str, Any]:
    """Every set (``before(spec)`` first, e.g. to tune its fusion weights), then the mean of each suite;
    ``{name: metrics.json}`` on rank 0 (``{}`` elsewhere)."""
    results: dict[str, Any] = {}
    if rank == 0:
        forget_suites(specs, Path(out_root))
    for spec in specs:
        if before is not None:
            before(spec)
        result = evaluate_set(scorer, spec, out_root, model_id, progress, rank, world_size, barrier, key)
        if result is not None:
            results[spec.name] = result
    if rank == 0:
        results.update(summarize_suites(specs, results, Path(out_root)))
    return results


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
    if spec.queries is not None:
        keep = set(spec.queries)
        qrels = {q: judged for q, judged in qrels.items() if q in keep}
    if not qrels:
        raise DataError(f"eval {spec.name}: no judged queries" + (" among eval.queries" if spec.queries else ""))
    level = spec.level(source)
    names = spec.metric_names(source)
    candidates = CandidateRows(source, spec, qrels, level)
    rows = first_rows(iter(candidates), spec.name)
    out = Path(out_root) / "eval" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        for name in OUTPUTS:  # never leave an old, complete-looking result beside new shards
            (out / name).unlink(missing_ok=True)
    result = rerank(source, scorer, out, rows, spec.batch_size, spec.shard_size, rank, world_size, progress,
                    barrier, key)
    if result is None:
        return None
    others = {name: rows_to_run(read_run(Path(path), source.queries())) for name, path in spec.compare_runs.items()}
    if spec.teacher:
        others["teacher"] = teacher_run(spec, source, result.shards, out)
    alpha = spec.interpolate if isinstance(spec.interpolate, int | float) else None
    beta = float(spec.teacher_weight or 0.0) if spec.teacher else 0.0
    per_query = score_per_query(result.shards, qrels, names, others, out / "run.trec", alpha=alpha,
                                teacher=others.get("teacher"), beta=beta, with_positives=spec.rerank_positives)
    warning = graded_level_warning(qrels, level, f"eval {spec.name}", "eval.relevance_level=2")
    counts = (sum(1 for _ in itertools.groupby(iter_shard_rows(result.shards), key=lambda r: r[0])), len(qrels))
    report = write_reports(spec, scorer, result, per_query, names, level, counts, model_id, warning, out,
                           candidates.first_stage_name)
    payload = metrics_payload(spec, scorer, result, per_query, names, level, counts, model_id, report, alpha,
                              beta, warning, candidates.first_stage_name)
    write_json(out / "metrics.json", payload)
    return payload


def metrics_payload(spec: EvalSet, scorer: CrossEncoderScorer, result: RerankResult,
                    per_query: dict[str, dict[str, dict[str, float]]], names: list[str], level: int,
                    counts: tuple[int, int], model_id: str | None, report: dict[str, Any], alpha: float | None,
                    beta: float, warning: str | None, first_stage_name: str) -> dict[str, Any]:
    """The content of ``metrics.json``: each ranking's mean metrics, what was scored, by what, how fast, and what
    the first stage is."""
    means = {name: {m: float(np.mean(list(values[m].values()))) if values[m] else float("nan") for m in names}
             for name, values in per_query.items()}
    return json_safe({
        **{run: means.get(run) for run in TOP_LEVEL}, "first_stage_name": first_stage_name,
        "n_queries": counts[0], "n_pairs": result.n_pairs, "n_judged_queries": counts[1], "depth": spec.depth,
        "relevance_level": level,
        "max_length": scorer.max_length, "model": model_id, "model_digest": result.key["weights"],
        "backend": getattr(scorer, "backend", "torch"), "compiled": bool(getattr(scorer, "compiled", False)),
        "cudnn_attention": bool(getattr(scorer, "cudnn_attention", False)),
        "pairs_per_second": round(result.pairs_per_second, 2), "scored_pairs": result.scored_pairs,
        "rerank_seconds": round(result.seconds, 2),
        "interpolation": None if alpha is None else {"alpha": alpha, "chosen": spec.interpolation_note,
                                                     **({"teacher": spec.teacher, "teacher_weight": beta}
                                                        if spec.teacher else {})},
        "others": {n: m for n, m in means.items() if n not in TOP_LEVEL},
        "significance": {m: report["reranked"]["comparisons"]["first_stage"][m] for m in names},
        "suite": spec.suite, "warnings": [warning] if warning else [],
    })  # missing values (a p-value of identical runs, pairs/s of a resumed run) are None, as in the file


def first_rows(rows: Iterator[RunRow], name: str) -> Iterator[RunRow]:
    """``rows`` once its first row is read (an empty first stage fails before anything is written)."""
    first = next(rows, None)
    if first is None:
        raise DataError(f"{name}: no candidates to rerank (empty run)")
    return itertools.chain([first], rows)


def write_reports(spec: EvalSet, scorer: CrossEncoderScorer, result: RerankResult,
                  per_query: dict[str, dict[str, dict[str, float]]], names: list[str], level: int,
                  counts: tuple[int, int], model_id: str | None, warning: str | None, out: Path,
                  first_stage_name: str = "") -> dict[str, Any]:
    """``per_query.tsv``, ``report.md`` / ``report.json`` (ranx's paired tests) and the console table;
    ``counts``: queries reranked, queries judged."""
    n_queries, n_judged = counts
    report = compare_scores(per_query, names, spec.stat_test, spec.max_p).to_dict() | {"max_p": spec.max_p}
    settings = settings_line(spec, level, scorer.max_length, model_line(model_id, result.key["weights"]),
                             getattr(scorer, "backend", "torch"))
    write_per_query(out / "per_query.tsv", per_query)
    notes = [settings] + ([f"First stage: {first_stage_name}."] if first_stage_name else []) + \
        ([f"Warning: {warning}."] if warning else [])
    write_text(out / "report.md", to_markdown(report, f"{spec.name}: {result.n_pairs} pairs, {n_judged} judged "
                                                      "queries", notes))
    write_json(out / "report.json", report)
    print(f"\n{spec.name} ({n_queries} queries, {result.n_pairs} pairs, "
          f"{result.pairs_per_second:.1f} pairs/s; relevance >= {level} is relevant, max_length "
          f"{scorer.max_length})\n{to_text(report)}")
    return report


def score_per_query(shards: Path, qrels: Qrels, names: list[str], others: dict[str, RunDict],
                    run_file: Path, chunk: int = 1000, alpha: float | None = None,
                    teacher: RunDict | None = None, beta: float = 0.0,
                    with_positives: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """``{run: {metric: {qid: value}}}`` for the first stage, the reranked run and any other runs, computed a
    few thousand queries at a time (memory does not grow with the candidate count); writes the reranked TREC
    run file on the way (atomically). Judged queries without candidates score 0, as in trec_eval. With
    ``alpha``, the run ``interpolated`` (:func:`crossrank.evaluation.fusion.interpolate`, with ``teacher``
    at weight ``beta``) is scored too and written beside ``run_file`` as ``run.interpolated.trec``; with
    ``with_positives``, the run ``reranked_with_positives`` (the reranked candidates and the added positives),
    written as ``run.with_positives.trec``."""
    from crossrank.evaluation.fusion import interpolate

    made = {"reranked_with_positives": with_positives, "interpolated": alpha is not None, "teacher": False}
    names_of_runs = [r for r in RANKINGS if made.get(r, True)] + list(others)
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

    def writer(files: contextlib.ExitStack, name: str | None) -> Any:
        return files.enter_context(files.enter_context(atomic_path(run_file.with_name(name))).open(
            "w", encoding="utf-8")) if name else None

    with contextlib.ExitStack() as files:
        f = writer(files, run_file.name)
        g = writer(files, "run.interpolated.trec" if alpha is not None else None)
        h = writer(files, "run.with_positives.trec" if with_positives else None)
        for first, reranked, added in iter_query_chunks(shards, chunk):
            seen.update(first, added)
            f.writelines(trec_lines(reranked, "crossrank"))
            runs = {"first_stage": first, "reranked": reranked}
            if h is not None:
                runs["reranked_with_positives"] = {q: {**reranked.get(q, {}), **added.get(q, {})}
                                                   for q in reranked.keys() | added.keys()}
                h.writelines(trec_lines(runs["reranked_with_positives"], "crossrank-with-positives"))
            if g is not None and alpha is not None:
                chunk_teacher = None if teacher is None else {q: teacher[q] for q in reranked}
                runs["interpolated"] = interpolate(reranked, first, alpha, chunk_teacher, beta)
                g.writelines(trec_lines(runs["interpolated"], f"crossrank-interpolated-{alpha}"))
            add({**runs, **{n: {q: other[q] for q in first if q in other} for n, other in others.items()}},
                sorted(first.keys() | added.keys()))
    missing = [q for q in qrels if q not in seen]
    add({name: ({q: others[name][q] for q in missing if q in others[name]} if name in others else {})
         for name in names_of_runs}, missing)
    return per_query


def teacher_run(spec: EvalSet, source: Source, shards: Path, out: Path) -> RunDict:
    """``spec.teacher``'s scores of exactly the reranked pairs (not of added positives), also written as
    ``out/run.teacher.trec``; the passage texts are fetched one score shard at a time, as the reranker's were."""
    from crossrank.models.teachers import load_teacher, score_pairs

    fn, tag = load_teacher(spec.teacher or "", "eval.teacher")
    queries = source.queries()
    run: RunDict = {}
    for shard in shard_files(shards):
        pairs = [(qid, pid) for qid, pid, first, _ in iter_shard_rows(shard) if not is_injected(first)]
        for qid, scores in score_pairs(fn, pairs, queries, source.passages({pid for _, pid in pairs})).items():
            run.setdefault(qid, {}).update(scores)
    write_text(out / "run.teacher.trec", "".join(trec_lines(run, f"teacher-{tag}")))
    return run


def model_line(model_id: str | None, digest: object) -> str:
    """The model of a report: the folder that loads it again (None: not exported) and its weights' digest."""
    where = f"Model `{model_id}`" if model_id else "The model (not exported)"
    return f"{where}, weights digest `{digest}`"


def settings_line(spec: EvalSet, level: int, max_length: int, model: str, backend: str = "torch") -> str:
    """How the numbers were made, in one sentence for reports."""
    depth = "all candidates" if spec.depth is None else f"the top {spec.depth} candidates"
    added = " and the judged positives the first stage missed (reported apart)" if spec.rerank_positives else ""
    return (f"{model} reranked {depth}{added} per query at max_length {max_length} (backend {backend}). "
            "Binary metrics (MRR, MAP, "
            f"recall) count relevance >= {level} as relevant; nDCG uses the graded judgments.")
