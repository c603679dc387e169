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

from crossrank.data.bm25 import library_settings
from crossrank.data.candidates import FirstStage, first_stage, ordered_subset, run_candidates
from crossrank.data.memory import release_memory
from crossrank.data.pairs import TEACHER_IN_SOURCE, PairSpec, pair_table, split_queries
from crossrank.data.runfile import ArrowCandidates, as_arrow
from crossrank.data.sources import Source, graded_level_warning, load_source, val_source_config
from crossrank.data.trec import Qrels, group_run, read_run
from crossrank.errors import DataError
from crossrank.files import atomic_path, file_lock, file_stamp

log = logging.getLogger(__name__)

VAL_COLUMNS = ("qid", "pid", "query", "passage", "first_stage")
CACHE_FORMAT = 5  # bumped when what a cached set holds changes


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
        self.about: str | None = None  # the source's own account of what was read (hub rows), kept with the set

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
                 "first_stage": [self.how.mode, asdict(self.how.bm25), library_settings()],
                 "val_source": self.val_source,
                 "val_files": val.cache_key() if val else None, "mined": file_stamp(self.mined_run),
                 "teacher": teacher, "format": CACHE_FORMAT}
        return hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def load_or_build(self, cache_dir: Path | None) -> tuple[datasets.Dataset, datasets.Dataset, Qrels]:
        """(training pairs, validation candidates, validation judgments), from ``cache_dir`` when they are there
        (memory-mapped). A build is kept under the key its sources have once it is done: the first build downloads
        files (ir_datasets) that the key stamps, and every later run computes the key from them."""
        cached = cache_dir / self.cache_key() if cache_dir else None
        if cache_dir is not None and cached is not None and not (cached / "done").exists():
            with file_lock(cache_dir / f".{cached.name}.lock"):  # DDP ranks on a cold cache: one builds
                return self._load_or_build(cache_dir)
        return self._load_or_build(cache_dir)

    def _load_or_build(self, cache_dir: Path | None) -> tuple[datasets.Dataset, datasets.Dataset, Qrels]:
        cached = cache_dir / self.cache_key() if cache_dir else None
        if cached is not None and (cached / "done").exists():
            log.info("loading cached pairs from %s", cached)
            self.about = (cached / "about.txt").read_text() if (cached / "about.txt").exists() else None
            train = datasets.Dataset.from_file(str(cached / "train.arrow"))  # memory-mapped, nothing read yet
            # an empty dataset does not survive save_to_disk/load_from_disk: rebuild it from its columns
            val = (datasets.load_from_disk(str(cached / "val")) if (cached / "val").exists()
                   else datasets.Dataset.from_dict({c: [] for c in VAL_COLUMNS}))
            return train, val, json.loads((cached / "val_qrels.json").read_text())
        train, val, val_qrels = self.build()
        if cache_dir is None:
            return train, val, val_qrels
        cached = cache_dir / self.cache_key()
        with atomic_path(cached, folder=True) as tmp:
            write_arrow(train.data.table, tmp / "train.arrow")
            if len(val):
                val.save_to_disk(str(tmp / "val"))
            (tmp / "val_qrels.json").write_text(json.dumps(val_qrels))
            if self.about is not None:
                (tmp / "about.txt").write_text(self.about)
            (tmp / "done").touch()
        return self._load_or_build(cache_dir)  # memory-mapped from the cache, as every later run reads it

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
        graded_level_warning(qrels, spec.level, f"data {source.name}", "data.pairs.min_relevance=2")
        describe = getattr(source, "describe", None)  # where the pairs come from, for the model card (hub rows)
        self.about = describe() if describe is not None else None
        train_qids, val_qids = split_queries(qrels, spec, has_text)
        if not train_qids:
            raise DataError(f"{source.name}: no query has a judged positive (relevance >= {spec.level}) with passage "
                            "text")
        depth = None if spec.candidate_depth is None else max(spec.candidate_depth, self.val_depth)  # None: all
        candidates = first_stage(source, set(train_qids) | set(val_qids), depth, self.how)
        negatives = as_arrow(self.negatives(candidates, set(train_qids), queries))
        pairs = pair_table(train_qids, qrels, negatives, spec, has_text)
        if self.teacher_run:  # a picked run's own scores, when the negatives are its rows
            from_run = self.mined_run is None and isinstance(candidates, ArrowCandidates)
            pairs = pairs.append_column("teacher", self.teacher_scores(pairs, negatives, from_run))
        pairs = pairs.drop_columns(["row"])
        if has_text is not None:  # the source holds its texts in memory (a folder, a hub dataset's rows): kept here,
            pairs = with_text_columns(pairs, queries, source)  # so no worker reads the source again
        rows, val_source, val_qrels = self.validation(candidates, val_qids)
        del candidates, negatives  # tens of millions of rows: gone before the passages' docs store is opened
        release_memory()
        val = self.with_texts(rows, val_source)
        # a fingerprint given: datasets would otherwise hash the whole table (a copy of 40M rows) to make one
        train = datasets.Dataset(datasets.table.InMemoryTable(pairs), fingerprint=self.cache_key())
        log.info("%s: %d training pairs (%d queries), %d validation pairs (%d queries)",
                 source.name, len(train), len(set(train_qids)), len(val), len(val_qrels))
        return train, val, val_qrels

    def validation(self, candidates: Mapping[str, list[tuple[str, float]]],
                   val_qids: list[str]) -> tuple[list[tuple[str, str, float]], Source, Qrels]:
        """The validation candidates (top ``val_depth``), their source and judgments: held-out training queries, or a
        sample of ``val_source``'s."""
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
        else:  # validation reports the first stage as a ranking: these queries' lists in a real order
            val_candidates = ordered_subset(val_source, candidates, val_qids, self.val_depth, self.how)
        rows = [(q, p, sc) for q in val_qids for p, sc in val_candidates.get(q, [])[: self.val_depth]]
        return rows, val_source, {q: val_judged[q] for q in val_qids}

    @staticmethod
    def with_texts(rows: list[tuple[str, str, float]], source: Source) -> datasets.Dataset:
        """The validation pairs with their texts (those whose passage has one)."""
        queries, texts = source.queries(), source.passages({p for _, p, _ in rows})
        rows = [r for r in rows if r[1] in texts]
        return datasets.Dataset.from_dict({
            "qid": [q for q, _, _ in rows], "pid": [p for _, p, _ in rows],
            "query": [queries[q] for q, _, _ in rows], "passage": [texts[p] for _, p, _ in rows],
            "first_stage": [float(sc) for _, _, sc in rows],
        })

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
            if from_run:  # every pair the run lists has its row: a pair with none is not in the run
                listed = rows >= 0
                scores[listed] = candidates.table.column("score").to_numpy()[rows[listed]]
                wanted = np.zeros(0, dtype=np.int64)
            else:
                wanted = np.arange(len(rows))
            scored = as_arrow(run_candidates(self.source, set(pairs.column("qid").take(
                pa.array(wanted)).to_pylist()))).table if len(wanted) else None
        else:
            path = Path(str(self.teacher_run))
            if not path.is_file():
                raise DataError(f"data.teacher_run: {path} does not exist")
            where, scored, wanted = str(path), run_table(path), np.arange(len(rows))
        if len(wanted) and scored is not None:
            asked = pairs.select(["qid", "pid"]).take(pa.array(wanted)).append_column("at", pa.array(wanted))
            joined = asked.join(scored.select(["qid", "pid", "score"]), keys=["qid", "pid"], join_type="inner")
            scores[joined.column("at").to_numpy()] = joined.column("score").to_numpy()
        missing = np.flatnonzero(np.isnan(scores))
        if len(missing):
            i = int(missing[0])
            raise DataError(f"{where}: no teacher score for training pair qid {pairs['qid'][i].as_py()!r} pid "
                            f"{pairs['pid'][i].as_py()!r} (score the training candidates with crossrank teach)")
        return pa.array(scores)


def with_text_columns(pairs: Any, queries: Mapping[str, str], source: Source) -> Any:
    """``pairs`` with ``query`` and ``passage`` texts (sources whose texts are in memory anyway)."""
    import pyarrow as pa

    texts = source.passages(set(pairs.column("pid").to_pylist()))
    return pairs.append_column("query", pa.array([queries[q] for q in pairs.column("qid").to_pylist()], pa.string())) \
        .append_column("passage", pa.array([texts[p] for p in pairs.column("pid").to_pylist()], pa.string()))


def write_arrow(table: Any, path: Path) -> None:
    """``table`` as an Arrow IPC stream (what ``datasets.Dataset.from_file`` maps) in batches of a million rows:
    ``save_to_disk``'s batches of a thousand put a header on every few pages, and opening the file then reads the
    whole of it (1.4 GB resident for MS MARCO's 40M teacher pairs, against a few MB)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as out, pa.ipc.new_stream(out, table.schema) as writer:
        writer.write_table(table, max_chunksize=1 << 20)


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
