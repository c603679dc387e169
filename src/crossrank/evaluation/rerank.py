"""Streamed, sharded, resumable reranking of first-stage candidates.

Candidates stream from the source in shards of ``shard_size`` pairs: only one shard's texts and
scores are in memory at a time. Each finished shard is written atomically to
``<out>/shards/shard-NNNNN.tsv`` (qid, pid, first-stage score, reranker score). With several workers
(``rank`` of ``world_size``), shard ``i`` belongs to worker ``i % world_size``; the shards are merged afterwards.

The cache key (the one place that says what changes a score): scores are reused only when they were made by
the same scorer (:meth:`~crossrank.models.scorer.CrossEncoderScorer.fingerprint`: the digest of the weights, max
length, backend, precision, attention kernel, device) from the same inputs (each shard's first line holds a
digest of its candidates and of their query and passage texts). A rerun of an interrupted evaluation with the
same model skips the shards already scored; any other model, setting, run file or text is scored afresh.
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

from crossrank.data.sources import Source
from crossrank.data.trec import RunRow
from crossrank.errors import DataError
from crossrank.evaluation.candidates import is_injected
from crossrank.evaluation.metrics import RunDict
from crossrank.files import write_text
from crossrank.models.scorer import CrossEncoderScorer

log = logging.getLogger(__name__)


@dataclass
class RerankResult:
    """Where an evaluation set's scores are (``shards``) plus what they cost."""

    shards: Path
    key: dict[str, object]  # the scorer's fingerprint (scorer_key): weights digest, length, backend...
    n_pairs: int
    scored_pairs: int  # pairs scored in this call (resumed shards excluded)
    seconds: float

    @property
    def pairs_per_second(self) -> float:
        return self.scored_pairs / self.seconds if self.scored_pairs and self.seconds > 0 else float("nan")


#: Bumped when the shard format changes: older shards are then scored afresh.
SHARD_FORMAT = 2
KEY_PREFIX = "#key\t"


def scorer_key(scorer: CrossEncoderScorer) -> dict[str, object]:
    """What must match for any stored score to be reused: the scorer's fingerprint and the shard format."""
    return {"format": SHARD_FORMAT, **scorer.fingerprint()}


def shard_key(scorer: dict[str, object], chunk: list[RunRow], queries: dict[str, str], texts: dict[str, str]) -> str:
    """A digest of what made a shard's scores: the scorer (:func:`scorer_key`), its (qid, pid, first-stage score)
    rows and their query and passage texts. Every worker checks it for every shard it would reuse."""
    h = hashlib.sha256(json.dumps(scorer, sort_keys=True).encode())
    for qid, pid, first in chunk:
        h.update(f"{qid}\t{pid}\t{first!r}\t{queries[qid]}\t{texts[pid]}\n".encode())
    return h.hexdigest()[:32]


def _stored_key(path: Path) -> str | None:
    """The input digest on a shard's first line (None: no shard, or one from before digests)."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as f:
        first = f.readline()
    return first[len(KEY_PREFIX):].strip() if first.startswith(KEY_PREFIX) else None


def rerank(source: Source, scorer: CrossEncoderScorer, out_dir: str | Path, rows: Iterator[RunRow],
           batch_size: int | None = None, shard_size: int = 50_000,
           rank: int = 0, world_size: int = 1, progress: bool = True,
           barrier: Callable[[], None] | None = None, key: dict[str, object] | None = None) -> RerankResult | None:
    """Score the streamed candidate ``rows``; return both runs (None on workers other than rank 0,
    which only write their shards). ``barrier`` waits for every worker before rank 0 merges. ``key``: the
    scorer's :func:`scorer_key`, when the caller computed it already (it hashes every weight)."""
    shards = Path(out_dir) / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    meta = key or scorer_key(scorer)
    meta_path = shards / "meta.json"
    if rank == 0:
        if meta_path.exists() and json.loads(meta_path.read_text()) != meta:
            log.info("%s: the scores in %s are another model's or setting's; scoring afresh", source.name, shards)
            for f in shards.glob("shard-*.tsv"):
                f.unlink()
        write_text(meta_path, json.dumps(meta))
    if barrier is not None:
        barrier()  # no worker writes a shard before stale ones are gone

    queries = source.queries()
    start = time.perf_counter()
    scored = reused = count = 0
    stream = iter(rows)
    with tqdm(desc=f"rerank {source.name}", unit="pair", disable=not progress or rank != 0, smoothing=0.1) as bar:
        for i in itertools.count():
            chunk = list(itertools.islice(stream, shard_size))
            if not chunk:
                break
            count = i + 1
            path = shards / f"shard-{i:05d}.tsv"
            if i % world_size != rank:
                bar.update(len(chunk))
                continue
            texts = _texts(source, chunk, queries)
            inputs = shard_key(meta, chunk, queries, texts)
            if _stored_key(path) == inputs:
                reused += len(chunk)
                bar.update(len(chunk))
                continue
            scores = _score_with_bar(scorer, [queries[q] for q, _, _ in chunk], [texts[p] for _, p, _ in chunk],
                                     batch_size, bar)
            write_text(path, KEY_PREFIX + inputs + "\n" + "".join(f"{qid}\t{pid}\t{first!r}\t{float(s)!r}\n"
                                                              for (qid, pid, first), s in zip(chunk, scores)))
            scored += len(chunk)
    seconds = time.perf_counter() - start
    if barrier is not None:
        barrier()
    if rank != 0:
        return None
    for stale in shard_files(shards):
        if _number(stale) >= count:  # the candidates were more before
            stale.unlink()
    if reused:
        log.info("%s: %d pairs' scores reused from %s (same model, settings and inputs)", source.name, reused, shards)
    n = sum(1 for _ in iter_shard_rows(shards))
    if n == 0:
        raise DataError(f"{source.name}: no candidates to rerank (empty run)")
    return RerankResult(shards, meta, n, scored, seconds)


def _texts(source: Source, chunk: list[RunRow], queries: dict[str, str]) -> dict[str, str]:
    """The passage texts of a shard's candidates; a run id without a query or a text is an error."""
    texts = source.passages({pid for _, pid, _ in chunk})
    missing = [pid for _, pid, _ in chunk if pid not in texts]
    if missing:
        raise DataError(f"{source.name}: the run names pid {missing[0]!r}, which has no passage text")
    unknown = [qid for qid, _, _ in chunk if qid not in queries]
    if unknown:
        raise DataError(f"{source.name}: the run names qid {unknown[0]!r}, which is not a query")
    return texts


def _score_with_bar(scorer: CrossEncoderScorer, queries: list[str], passages: list[str], batch_size: int | None,
                    bar: tqdm) -> list[float]:
    """Score a shard (tokenized once, longest batches of similar length first), moving the progress bar
    after every batch; results come back in input order."""
    return scorer.score(queries, passages, batch_size, on_batch=bar.update).tolist()


def _number(path: Path) -> int:
    return int(path.stem.removeprefix("shard-"))


def shard_files(shards: Path) -> list[Path]:
    """A shard folder's files in stream order (by their number)."""
    return sorted(shards.glob("shard-*.tsv"), key=_number)


def iter_shard_rows(shards: Path) -> Iterator[tuple[str, str, float, float]]:
    """Every scored candidate of a shard folder (or of one shard file) in stream order: (qid, pid, first-stage
    score, reranker score)."""
    for path in [shards] if shards.is_file() else shard_files(shards):
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f):
                if n == 0 and line.startswith(KEY_PREFIX):
                    continue
                qid, pid, a, b = line.rstrip("\n").split("\t")
                yield qid, pid, float(a), float(b)


def iter_query_chunks(shards: Path, queries_per_chunk: int = 1000) -> Iterator[tuple[RunDict, RunDict, RunDict]]:
    """(first-stage run, reranked run, added positives' scores) for a few thousand queries at a time, so that
    metrics over millions of candidates need memory for one chunk only. A query's rows are consecutive in the
    stream (a shard boundary may split them); a query met again after another one is an error. Added positives
    (a NaN first-stage score: ``eval.rerank_positives``) are in neither of the first two runs."""
    first: RunDict = {}
    reranked: RunDict = {}
    added: RunDict = {}
    done: set[str] = set()
    previous = None
    for qid, pid, a, b in iter_shard_rows(shards):
        if qid != previous:
            if qid in done or qid in first or qid in added:
                raise DataError(f"{shards}: qid {qid!r} is not contiguous in the scored candidates")
            if previous is not None and len(first) + len(added.keys() - first.keys()) >= queries_per_chunk:
                done.update(first, added)
                yield first, reranked, added
                first, reranked, added = {}, {}, {}
            previous = qid
        if is_injected(a):
            added.setdefault(qid, {})[pid] = b
            continue
        first.setdefault(qid, {})[pid] = a
        reranked.setdefault(qid, {})[pid] = b
    if first or added:
        yield first, reranked, added
