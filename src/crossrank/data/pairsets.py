"""A source's training pairs and validation candidates, as Arrow datasets, built once and cached: the cache key
holds the source's identity and contents (:meth:`~crossrank.data.sources.Source.cache_key`), every pair setting,
the validation set and the first stage's settings."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import datasets

from crossrank.data.candidates import first_stage
from crossrank.data.pairs import PairSpec, iter_pairs, split_queries
from crossrank.data.sources import Source, load_source, val_source_config
from crossrank.data.trec import Qrels, group_run, read_run
from crossrank.errors import DataError
from crossrank.files import atomic_path, file_stamp

log = logging.getLogger(__name__)

VAL_COLUMNS = ("qid", "pid", "query", "passage", "first_stage")
CACHE_FORMAT = 3  # bumped when what a cached set holds changes


class PairSets:
    """The training and validation sets of ``source`` drawn as ``spec`` says.

    Args:
        val_depth: first-stage candidates per validation query.
        bm25: ``bm25_k1`` / ``bm25_b`` of the first stage where the source has no run.
        val_source: validate on another set (``{kind, path, dataset_id, run_path, num_queries}``) instead of held-out
            training queries.
        mined_run: training negatives from this run (``crossrank mine``) instead of the first stage; validation
            still reranks the first stage.
    """

    def __init__(self, source: Source, spec: PairSpec, val_depth: int, bm25: dict[str, float],
                 val_source: dict[str, Any] | None = None, mined_run: str | None = None) -> None:
        self.source, self.spec, self.val_depth, self.bm25 = source, spec, val_depth, bm25
        self.val_source = dict(val_source) if val_source else None
        self.mined_run = Path(mined_run) if mined_run else None

    def cache_key(self) -> str:
        """A hash of everything that determines the sets."""
        val = load_source(**val_source_config(self.val_source)[0]) if self.val_source else None
        stamp = {"source": self.source.cache_key(), "spec": asdict(self.spec), "val_depth": self.val_depth,
                 "bm25": self.bm25, "val_source": self.val_source, "val_files": val.cache_key() if val else None,
                 "mined": file_stamp(self.mined_run), "format": CACHE_FORMAT}
        return hashlib.sha256(json.dumps(stamp, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def load_or_build(self, cache_dir: Path | None) -> tuple[datasets.Dataset, datasets.Dataset, Qrels]:
        """(training pairs, validation candidates, validation judgments), from ``cache_dir`` when they are there."""
        cached = cache_dir / self.cache_key() if cache_dir else None
        if cached is not None and (cached / "done").exists():
            log.info("loading cached pairs from %s", cached)
            train = datasets.load_from_disk(str(cached / "train"))
            # an empty dataset does not survive save_to_disk/load_from_disk: rebuild it from its columns
            val = (datasets.load_from_disk(str(cached / "val")) if (cached / "val").exists()
                   else datasets.Dataset.from_dict({c: [] for c in VAL_COLUMNS}))
            return train, val, json.loads((cached / "val_qrels.json").read_text())
        train, val, val_qrels = self.build()
        if cached is not None:
            with atomic_path(cached, folder=True) as tmp:
                train.save_to_disk(str(tmp / "train"))
                if len(val):
                    val.save_to_disk(str(tmp / "val"))
                (tmp / "val_qrels.json").write_text(json.dumps(val_qrels))
                (tmp / "done").touch()
        return train, val, val_qrels

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
        k1, b = self.bm25["bm25_k1"], self.bm25["bm25_b"]
        candidates = first_stage(source, set(train_qids) | set(val_qids), depth, k1, b)
        rows = list(iter_pairs(train_qids, qrels, self.negatives(candidates, set(train_qids), queries), spec,
                               has_text))
        val_source, val_queries, val_judged = source, queries, qrels
        if self.val_source is not None:
            fields, sample_cfg = val_source_config(self.val_source)
            num = sample_cfg["num_queries"]
            level = sample_cfg["min_relevance"] or spec.min_relevance  # its own scale (NanoBEIR: binary)
            val_source = load_source(**fields)
            val_queries, val_judged = val_source.queries(), val_source.qrels()
            sample = PairSpec(min_relevance=level, seed=spec.seed,
                              val_queries=num if num is not None else len(val_judged))
            val_qids = split_queries(val_judged, sample)[1]
            if not val_qids:
                raise DataError(f"data.val_source: {val_source.name} has no judged query with relevance >= {level} "
                                "(set data.val_source.min_relevance)")
            val_candidates = first_stage(val_source, set(val_qids), self.val_depth, k1, b)
        else:
            val_candidates = candidates
        val_rows = [(q, p, sc) for q in val_qids for p, sc in val_candidates.get(q, [])[: self.val_depth]]
        texts = source.passages({p for _, p, _ in rows})
        val_texts = val_source.passages({p for _, p, _ in val_rows})
        train = datasets.Dataset.from_dict({
            "qid": [q for q, _, _ in rows], "pid": [p for _, p, _ in rows],
            "query": [queries[q] for q, _, _ in rows], "passage": [texts[p] for _, p, _ in rows],
            "label": [label for _, _, label in rows],
        })
        val_rows = [r for r in val_rows if r[1] in val_texts]
        val = datasets.Dataset.from_dict({
            "qid": [q for q, _, _ in val_rows], "pid": [p for _, p, _ in val_rows],
            "query": [val_queries[q] for q, _, _ in val_rows], "passage": [val_texts[p] for _, p, _ in val_rows],
            "first_stage": [float(sc) for _, _, sc in val_rows],
        })
        val_qrels = {q: val_judged[q] for q in val_qids}
        log.info("%s: %d training pairs (%d queries), %d validation pairs (%d queries)",
                 source.name, len(train), len(train_qids), len(val), len(val_qids))
        return train, val, val_qrels
