"""Streamed, sharded, resumable reranking of first-stage candidates.

Candidates stream from the source in shards of ``shard_size`` pairs: only one shard's texts and
scores are in memory at a time. Each finished shard is written atomically to
``<out>/shards/shard-NNNNN.tsv`` (qid, pid, first-stage score, reranker score); a rerun with the
same model, source and depth skips the shards already there. With several workers (``rank`` of
``world_size``), shard ``i`` belongs to worker ``i % world_size``; the shards are merged afterwards.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from crossrank.data.candidates import order_key
from crossrank.data.sources import RunRow, Source
from crossrank.errors import DataError
from crossrank.evaluation.metrics import RunDict
from crossrank.files import write_text
from crossrank.scorer import CrossEncoderScorer

log = logging.getLogger(__name__)


@dataclass
class RerankResult:
    """Where an evaluation set's scores are (``shards``) plus what they cost."""

    shards: Path
    n_pairs: int
    scored_pairs: int  # pairs scored in this call (resumed shards excluded)
    seconds: float

    @property
    def pairs_per_second(self) -> float:
        return self.scored_pairs / self.seconds if self.scored_pairs and self.seconds > 0 else float("nan")


def cut_per_query(rows: Iterator[RunRow], depth: int | None, name: str = "run") -> Iterator[RunRow]:
    """Stream the top-``depth`` rows of each query (trec_eval order). Needs rows grouped by query,
    as TREC run files are; a query that shows up again after another is an error."""
    if depth is None:
        yield from rows
        return
    done: set[str] = set()
    for qid, group in itertools.groupby(rows, key=lambda r: r[0]):
        if qid in done:
            raise DataError(f"{name}: the run is not grouped by query (qid {qid!r} appears twice); "
                            "sort it by qid to use a depth cut")
        done.add(qid)
        items = sorted(((pid, score) for _, pid, score in group), key=order_key, reverse=True)[:depth]
        for pid, score in items:
            yield qid, pid, score


def _fingerprint(model_id: str, source_name: str, depth: int | None, max_length: int) -> str:
    text = json.dumps([model_id, source_name, depth, max_length])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rerank(source: Source, scorer: CrossEncoderScorer, out_dir: str | Path, rows: Iterator[RunRow],
           depth: int | None = None, batch_size: int | None = None, shard_size: int = 50_000, model_id: str = "",
           rank: int = 0, world_size: int = 1, progress: bool = True,
           barrier: Callable[[], None] | None = None) -> RerankResult | None:
    """Score the streamed candidate ``rows``; return both runs (None on workers other than rank 0,
    which only write their shards). ``barrier`` waits for every worker before rank 0 merges."""
    shards = Path(out_dir) / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    meta = {"fingerprint": _fingerprint(model_id, source.name, depth, scorer.max_length), "shard_size": shard_size}
    meta_path = shards / "meta.json"
    if rank == 0:
        if meta_path.exists() and json.loads(meta_path.read_text()) != meta:
            log.info("%s: scores in %s are from another model or setting; starting afresh", source.name, shards)
            for f in shards.glob("shard-*.tsv"):
                f.unlink()
        write_text(meta_path, json.dumps(meta))
    if barrier is not None:
        barrier()  # no worker writes a shard before stale ones are gone

    queries = source.queries()
    start = time.perf_counter()
    scored = 0
    stream = cut_per_query(rows, depth, source.name)
    with tqdm(desc=f"rerank {source.name}", unit="pair", disable=not progress or rank != 0, smoothing=0.1) as bar:
        for i in itertools.count():
            chunk = list(itertools.islice(stream, shard_size))
            if not chunk:
                break
            path = shards / f"shard-{i:05d}.tsv"
            if i % world_size != rank or path.exists():
                bar.update(len(chunk))
                continue
            texts = source.passages({pid for _, pid, _ in chunk})
            missing = [pid for _, pid, _ in chunk if pid not in texts]
            if missing:
                raise DataError(f"{source.name}: the run names pid {missing[0]!r}, which has no passage text")
            unknown = [qid for qid, _, _ in chunk if qid not in queries]
            if unknown:
                raise DataError(f"{source.name}: the run names qid {unknown[0]!r}, which is not a query")
            scores = _score_with_bar(scorer, [queries[q] for q, _, _ in chunk], [texts[p] for _, p, _ in chunk],
                                     batch_size, bar)
            write_text(path, "".join(f"{qid}\t{pid}\t{first!r}\t{float(s)!r}\n"
                                     for (qid, pid, first), s in zip(chunk, scores)))
            scored += len(chunk)
    seconds = time.perf_counter() - start
    if barrier is not None:
        barrier()
    if rank != 0:
        return None
    n = sum(1 for _ in iter_shard_rows(shards))
    if n == 0:
        raise DataError(f"{source.name}: no candidates to rerank (empty run)")
    return RerankResult(shards, n, scored, seconds)


def _score_with_bar(scorer: CrossEncoderScorer, queries: list[str], passages: list[str], batch_size: int | None,
                    bar: tqdm) -> list[float]:
    """Score a shard (tokenized once, longest batches of similar length first), moving the progress bar
    after every batch; results come back in input order."""
    return scorer.score(queries, passages, batch_size, on_batch=bar.update).tolist()


def iter_shard_rows(shards: Path) -> Iterator[tuple[str, str, float, float]]:
    """Every scored candidate in stream order: (qid, pid, first-stage score, reranker score)."""
    for path in sorted(shards.glob("shard-*.tsv")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                qid, pid, a, b = line.rstrip("\n").split("\t")
                yield qid, pid, float(a), float(b)


def iter_query_chunks(shards: Path, queries_per_chunk: int = 1000) -> Iterator[tuple[RunDict, RunDict]]:
    """(first-stage run, reranked run) for a few thousand queries at a time, so that metrics over millions of
    candidates need memory for one chunk only. A query's rows are consecutive in the stream (a shard boundary
    may split them); a query met again after another one is an error."""
    first: RunDict = {}
    reranked: RunDict = {}
    done: set[str] = set()
    previous = None
    for qid, pid, a, b in iter_shard_rows(shards):
        if qid != previous:
            if qid in done or qid in first:
                raise DataError(f"{shards}: qid {qid!r} is not contiguous in the scored candidates")
            if previous is not None and len(first) >= queries_per_chunk:
                done.update(first)
                yield first, reranked
                first, reranked = {}, {}
            previous = qid
        first.setdefault(qid, {})[pid] = a
        reranked.setdefault(qid, {})[pid] = b
    if first:
        yield first, reranked


def read_shards(shards: Path) -> tuple[RunDict, RunDict, int]:
    """Merge every shard into (first-stage run, reranked run, number of pairs): for small sets and tests."""
    first: RunDict = {}
    reranked: RunDict = {}
    n = 0
    for qid, pid, a, b in iter_shard_rows(shards):
        first.setdefault(qid, {})[pid] = a
        reranked.setdefault(qid, {})[pid] = b
        n += 1
    return first, reranked, n
