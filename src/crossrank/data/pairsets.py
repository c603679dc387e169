"""A source's training pairs and validation candidates, built once and cached: the training pairs as columns
``(qid, pid, label[, teacher])`` in Arrow (memory-mapped by every run and every rank; texts are fetched from the
source a batch at a time, :mod:`crossrank.data.texts`), the validation candidates with their texts (a few thousand
pairs). The cache key holds the source's identity and contents (:meth:`~crossrank.data.sources.Source.cache_key`),
every pair setting, the validation set, the first stage's settings and the teacher's scores."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import datasets

from crossrank.data.candidates import FirstStage, first_stage, run_candidates
from crossrank.data.pairs import TEACHER_IN_SOURCE, PairSpec, pair_table, split_queries
from crossrank.data.runfile import ArrowCandidates, as_arrow
from crossrank.data.sources import Source, load_source, val_source_config
from crossrank.data.trec import Qrels, group_run, read_run
from crossrank.errors import DataError
from crossrank.files import atomic_path, file_stamp

log = logging.getLogger(__name__)

VAL_COLUMNS = ("qid", "pid", "query", "passage", "first_stage")
CACHE_FORMAT = 4  # bumped when what a cached set holds changes


class PairSets:
    """The training and validation sets of ``source`` drawn as ``spec`` says.

    Args:
        val_depth: first-stage candidates per validation query.
        how: how the first stage is made (:class:`~crossrank.data.candidates.FirstStage`).
        val_source: validate on another set (``{kind, path, dataset_id, run_path, num_queries}``) instead of held-out
            training queries.
        mined_run: training negatives from this run (``crossrank mine``) instead of the first stage; validation
            still reranks the first stage.
        teacher_run: a TREC run of teacher scores, or ``source`` (the source's own run holds them): each training
            pair's score becomes the column ``teacher``.
    """

    def __init__(self, source: Source, spec: PairSpec, val_depth: int, how: FirstStage,
                 val_source: dict[str, Any] | None = None, mined_run: str | None = None,
                 teacher_run: str | None = None) -> None:
        self.source, self.spec, self.val_depth, self.how = source, spec, val_depth, how
        self.val_source = dict(val_source) if val_source else None
        self.mined_run = Path(mined_run) if mined_run else None
        self.teacher_run = teacher_run

    @property
    def val_level(self) -> int:
        """The relevance level of the validation judgments: ``data.val_source.min_relevance`` when validation is on
        another set (its own scale: NanoBEIR is binary, TREC DL graded), else the training pairs'."""
        if self.val_source is not None:
            level = val_source_config(self.val_source)[1]["min_relevance"]
            if level is not None:
                return int(level)
        return self.spec.level

    def cache_key(self) -> str:
        """A hash of everything that determines the sets (the sources' files as they are now: see
        :meth:`load_or_build`)."""
        val = load_source(**val_source_config(self.val_source)[0]) if self.val_source else None
        teacher = self.teacher_run if self.teacher_run in (None, TEACHER_IN_SOURCE) else \
            file_stamp(Path(str(self.teacher_run)))
        stamp = {"source": self.source.cache_key(), "spec": asdict(self.spec), "val_depth": self.val_depth,
                 "first_stage": [self.how.mode, asdict(self.how.bm25)], "val_source": self.val_source,
                 "val_files": val.cache_key() if val else None, "mined": file_stamp(self.mined_run),
                 "teacher": teacher, "format": CACHE_FORMAT}
        return hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def load_or_build(self, cache_dir: Path | None) -> tuple[datasets.Dataset, datasets.Dataset, Qrels]:
        """(training pairs, validation candidates, validation judgments), from ``cache_dir`` when they are there
        (memory-mapped). A build is kept under the key its sources have once it is done: the first build downloads
        files (ir_datasets) that the key stamps, and every later run computes the key from them."""
        cached = cache_dir / self.cache_key() if cache_dir else None
        if cached is not None and (cached / "done").exists():
            log.info("loading cached pairs from %s", cached)
            train = datasets.load_from_disk(str(cached / "train"))
            # an empty dataset does not survive save_to_disk/load_from_disk: rebuild it from its columns
            val = (datasets.load_from_disk(str(cached / "val")) if (cached / "val").exists()
                   else datasets.Dataset.from_dict({c: [] for c in VAL_COLUMNS}))
            return train, val, json.loads((cached / "val_qrels.json").read_text())
        train, val, val_qrels = self.build()
        if cache_dir is None:
            return train, val, val_qrels
        cached = cache_dir / self.cache_key()
        with atomic_path(cached, folder=True) as tmp:
            train.save_to_disk(str(tmp / "train"))
            if len(val):
                val.save_to_disk(str(tmp / "val"))
            (tmp / "val_qrels.json").write_text(json.dumps(val_qrels))
            (tmp / "done").touch()
        return self.load_or_build(cache_dir)  # memory-mapped from the cache, as every later run reads it

    def negatives(self, candidates: Mapping[str, list[tuple[str, float]]], train_qids: set[str],
                  queries: Mapping[str, str]) -> Mapping[str, list[tuple[str, float]]]:
        """Where the training queries' negatives come from: the first stage's candidates, or the mined run."""
        if self.mined_run is None:
            return candidates
        if not self.mined_run.is_file():
            raise DataError(f"data.mined_run: {self.mined_run} does not exist")
        mined = group_run(read_run(self.mined_run, queries), train_qids, None)
        if not mined:
            raise DataError(f"{self.mined_run}: no mined negatives for any training query of {self.source.name}")
        missing = len(train_qids - mined.keys())
        if missing:
            log.warning("%s: %d of %d training queries have no mined negatives (the teacher left none below the "
                        "margin, or did not score their positive): query groups leave them out, pointwise losses see "
                        "their positives alone", self.mined_run, missing, len(train_qids))
        return mined

    def build(self) -> tuple[datasets.Dataset, datasets.Dataset, Qrels]:
        source, spec = self.source, self.spec
        queries, qrels, has_text = source.queries(), source.qrels(), source.passage_ids()
        train_qids, val_qids = split_queries(qrels, spec, has_text)
        if not train_qids:
            raise DataError(f"{source.name}: no query has a judged positive (relevance >= {spec.level}) with passage "
                            "text")
        depth = None if spec.candidate_depth is None else max(spec.candidate_depth, self.val_depth)  # None: all
        ordered = bool(val_qids) and self.val_source is None  # validation reports the first stage as a ranking
        candidates = first_stage(source, set(train_qids) | set(val_qids), depth, self.how, ordered)
        negatives = as_arrow(self.negatives(candidates, set(train_qids), queries))
        pairs = pair_table(train_qids, qrels, negatives, spec, has_text)
        if self.teacher_run:  # a picked run's own scores, when the negatives are its rows
            from_run = self.mined_run is None and isinstance(candidates, ArrowCandidates)
            pairs = pairs.append_column("teacher", self.teacher_scores(pairs, negatives, from_run))
        pairs = pairs.drop_columns(["row"])
        train = datasets.Dataset(datasets.table.InMemoryTable(pairs))
        val, val_qrels = self.validation(candidates, val_qids)
        log.info("%s: %d training pairs (%d queries), %d validation pairs (%d queries)",
                 source.name, len(train), len(set(train_qids)), len(val), len(val_qrels))
        return train, val, val_qrels

    def validation(self, candidates: Mapping[str, list[tuple[str, float]]],
                   val_qids: list[str]) -> tuple[datasets.Dataset, Qrels]:
        """The validation candidates (top ``val_depth``, with their texts) and judgments: held-out training queries,
        or a sample of ``val_source``'s."""
        val_source, val_judged, val_candidates = self.source, self.source.qrels(), candidates
        if self.val_source is not None:
            fields, sample_cfg = val_source_config(self.val_source)
            num, level = sample_cfg["num_queries"], self.val_level
            val_source = load_source(**fields)
            val_judged = val_source.qrels()
            sample = PairSpec(min_relevance=level, seed=self.spec.seed,
                              val_queries=num if num is not None else len(val_judged))
            val_qids = split_queries(val_judged, sample)[1]
            if not val_qids:
                raise DataError(f"data.val_source: {val_source.name} has no judged query with relevance >= {level} "
                                "(set data.val_source.min_relevance)")
            val_candidates = first_stage(val_source, set(val_qids), self.val_depth, self.how, ordered=True)
        rows = [(q, p, sc) for q in val_qids for p, sc in val_candidates.get(q, [])[: self.val_depth]]
        val_queries, texts = val_source.queries(), val_source.passages({p for _, p, _ in rows})
        rows = [r for r in rows if r[1] in texts]
        val = datasets.Dataset.from_dict({
            "qid": [q for q, _, _ in rows], "pid": [p for _, p, _ in rows],
            "query": [val_queries[q] for q, _, _ in rows], "passage": [texts[p] for _, p, _ in rows],
            "first_stage": [float(sc) for _, _, sc in rows],
        })
        return val, {q: val_judged[q] for q in val_qids}

    def teacher_scores(self, pairs: Any, candidates: ArrowCandidates, from_run: bool) -> Any:
        """The teacher's score of every training pair, as a column: the source's run (``source``: a negative's score
        is its candidate's, read from the same table; the positives are looked up in the run) or a TREC run file,
        joined to the pairs in Arrow; a pair without a score is one error line."""
        import numpy as np
        import pyarrow as pa

        rows = pairs.column("row").to_numpy()
        scores = np.full(len(rows), np.nan)
        if self.teacher_run == TEACHER_IN_SOURCE:
            if not self.source.has_run():
                raise DataError(f"data.teacher_run: source: {self.source.name} has no run to take teacher scores "
                                "from")
            where = f"{self.source.name}'s run"
            if from_run:
                negatives = rows >= 0
                scores[negatives] = candidates.table.column("score").to_numpy()[rows[negatives]]
            wanted = np.flatnonzero(rows < 0) if from_run else np.arange(len(rows))
            qids = set(pairs.column("qid").take(pa.array(wanted)).to_pylist())
            scored = as_arrow(run_candidates(self.source, qids)).table
        else:
            path = Path(str(self.teacher_run))
            if not path.is_file():
                raise DataError(f"data.teacher_run: {path} does not exist")
            where, scored, wanted = str(path), run_table(path), np.arange(len(rows))
        if len(wanted):
            asked = pairs.select(["qid", "pid"]).take(pa.array(wanted)).append_column("at", pa.array(wanted))
            joined = asked.join(scored.select(["qid", "pid", "score"]), keys=["qid", "pid"], join_type="inner")
            scores[joined.column("at").to_numpy()] = joined.column("score").to_numpy()
        missing = np.flatnonzero(np.isnan(scores))
        if len(missing):
            i = int(missing[0])
            raise DataError(f"{where}: no teacher score for training pair qid {pairs['qid'][i].as_py()!r} pid "
                            f"{pairs['pid'][i].as_py()!r} (score the training candidates with crossrank teach)")
        return pa.array(scores)


def run_table(path: Path) -> Any:
    """A TREC run file as an Arrow table ``(qid, pid, score)`` (the fast reader, else the line-by-line one, which
    names a bad line or a pair listed twice)."""
    import pyarrow as pa

    from crossrank.data.runfile import pick_all

    table = pick_all(path)
    if table is None:
        rows = list(read_run(path))
        table = pa.table({"qid": pa.array([r[0] for r in rows], pa.string()),
                          "pid": pa.array([r[1] for r in rows], pa.string()),
                          "score": pa.array([r[2] for r in rows], pa.float64())})
    return table
