"""First-stage candidates per query, and the order they come in.

``first_stage`` (config keys ``data.first_stage`` / ``eval.first_stage``) says where they come from:

- ``auto``: the source's run; where the run carries no scores (every candidate of a query ties, as in the official
  MS MARCO top-1000 files, which are in no order), its candidates are ordered by BM25 over the collection before
  anything is cut or reported; without a run, BM25's top k of the collection.
- ``run``: the source's run as it is; a run without scores has no order, so cutting it (a depth) or reporting it as
  a ranking is refused in one line.
- ``bm25`` (or ``bm25s``): BM25's top k of the whole collection (bm25s), even where the source has a run.

BM25 indexes are kept under ``cache_dir`` by collection (every subset of MS MARCO shares one), BM25 runs by the
source's contents, the queries, the settings and bm25s' version."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from crossrank.data.bm25 import BM25Index, BM25Settings, library_settings
from crossrank.data.sources import Source
from crossrank.data.trec import RunRow, group_run, order_key, read_run, trec_lines
from crossrank.errors import ConfigError, DataError
from crossrank.files import cache_root, file_lock, move_into_place, write_text

log = logging.getLogger(__name__)

MODES = ("auto", "run", "bm25")
ALIASES = {"bm25s": "bm25"}  # crossrank's own BM25 is bm25s': the name some configs use for it


def mode_of(name: str) -> str:
    """A ``first_stage`` value as one of :data:`MODES` (its aliases resolved)."""
    return ALIASES.get(name, name)
#: How deep BM25 retrieves when no depth is given (``depth: null``): as deep as the official candidate lists.
RETRIEVAL_DEPTH = 1000
Candidates = Mapping[str, list[tuple[str, float]]]


@dataclass(frozen=True)
class FirstStage:
    """How a set's first stage is made: ``mode`` (see the module), BM25's settings, where BM25 indexes and runs
    are kept (None: built in memory every time), and the config key that errors name."""

    mode: str = "auto"
    bm25: BM25Settings = field(default_factory=BM25Settings)
    cache_dir: Path | None = None
    key: str = "first_stage"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", mode_of(self.mode))
        if self.mode not in MODES:
            raise ConfigError(f"{self.key}: {self.mode!r} (expected {', '.join(MODES)}, or bm25s: bm25)")


def commands_first_stage() -> FirstStage:
    """The first stage of the ``crossrank`` commands (mine, teach): ``auto``, BM25 indexes kept in the cache."""
    return FirstStage(cache_dir=cache_root() / "bm25")


def first_stage(source: Source, qids: Collection[str] | None = None, depth: int | None = 100,
                how: FirstStage = FirstStage(), ordered: bool = False) -> Candidates:
    """Candidates of ``qids`` (all queries when None), best first, cut at ``depth`` (None: all). ``ordered``: the
    order matters even without a cut (it is reported as a ranking). A few queries out of a large run file are
    picked in Arrow (:mod:`crossrank.data.runfile`); any doubt goes back to the line-by-line reader, which names
    the bad line."""
    if how.mode == "bm25" or not source.has_run():
        return bm25_run(source, qids, depth or RETRIEVAL_DEPTH, how)
    candidates = run_candidates(source, qids)
    first = next((candidates[q] for q, n in lengths(candidates).items() if n > 1), None)
    if first is None or not unscored(first):
        return cut(candidates, depth)
    longest = max(lengths(candidates).values(), default=0)
    if not ordered and (depth is None or longest <= depth):
        return candidates  # every candidate is kept, in no particular order
    refuse_unordered(source, how, depth if depth is not None and longest > depth else None)
    index = collection_index(source, how)
    queries = source.queries()
    return dict(order_by_bm25(((q, items) for q, items in candidates.items()), index, queries, depth))


def run_candidates(source: Source, qids: Collection[str] | None) -> Candidates:
    """The source's run for ``qids``, uncut, each query's candidates in trec_eval's order (score, then pid,
    descending)."""
    path = source.run_file_path()
    if qids is not None and path is not None:
        from crossrank.data.runfile import pick

        picked = pick(Path(path), qids, None, negate_score=source.negate_score)
        if picked is not None and source.known_ids(picked):
            return picked
    return group_run(source.iter_run(), qids, None)


def lengths(candidates: Candidates) -> dict[str, int]:
    """How many candidates each query has (read off an Arrow table's spans: no list is made)."""
    from crossrank.data.runfile import ArrowCandidates

    if isinstance(candidates, ArrowCandidates):
        cap = candidates.depth if candidates.depth is not None else None
        return {q: (end - start if cap is None else min(end - start, cap)) for q, (start, end) in
                candidates.spans.items()}
    return {q: len(items) for q, items in candidates.items()}


def ordered_subset(source: Source, candidates: Candidates, qids: Collection[str], depth: int | None,
                   how: FirstStage) -> Candidates:
    """The candidates of ``qids`` only, in a real order (BM25's where the run has no scores) and cut at ``depth``:
    what validation reports as a first stage, without ordering every training query's list."""
    chosen = {q: candidates[q] for q in qids if q in candidates}
    first = next((items for items in chosen.values() if len(items) > 1), None)
    if first is None or not unscored(first):
        return {q: items[:depth] if depth is not None else items for q, items in chosen.items()}
    refuse_unordered(source, how, depth)
    return dict(order_by_bm25(iter(chosen.items()), collection_index(source, how), source.queries(), depth))


def unscored(items: list[tuple[str, float]]) -> bool:
    """Whether a query's candidates carry no scores: more than one, all tied."""
    return len(items) > 1 and all(score == items[0][1] for _, score in items)


def check_order(source: Source, how: FirstStage, depth: int | None, ordered: bool) -> None:
    """Before any work: ``first_stage: run`` on a run without scores that will be cut or reported is refused now
    (the first query with two or more candidates tells), not after a training run."""
    if how.mode != "run" or not source.has_run() or (depth is None and not ordered):
        return
    for _, items in grouped(source.iter_run(), source.name):
        if len(items) > 1:
            if unscored(items):
                refuse_unordered(source, how, depth)
            return


def refuse_unordered(source: Source, how: FirstStage, depth: int | None) -> None:
    """``first_stage: run`` on a run without scores cannot be cut or reported as a ranking: one line says so."""
    if how.mode != "run":
        return
    what = f"be cut at depth {depth}" if depth is not None else "be reported as a ranking"
    raise ConfigError(f"{how.key}: run: the candidates of {source.name}'s run carry no scores (all tie: no order), "
                      f"so they cannot {what}; {how.key}=auto orders them by BM25 over the collection, "
                      f"{how.key}=bm25 retrieves from it")


def cut(candidates: Candidates, depth: int | None) -> Candidates:
    if depth is None:
        return candidates
    from crossrank.data.runfile import ArrowCandidates

    if isinstance(candidates, ArrowCandidates):
        return ArrowCandidates(candidates.table, depth)
    return {q: items[:depth] for q, items in candidates.items()}


def order_by_bm25(groups: Iterator[tuple[str, list[tuple[str, float]]]], index: BM25Index,
                  queries: Mapping[str, str], depth: int | None) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """Each query's candidates with BM25 scores in place of their tied ones, best first, cut at ``depth``."""
    for qid, items in groups:
        pids = [p for p, _ in items]
        scores = index.score(queries.get(qid, ""), pids).tolist()
        ranked = sorted(zip(pids, scores), key=order_key, reverse=True)
        yield qid, ranked[:depth] if depth is not None else ranked


def collection_index(source: Source, how: FirstStage) -> BM25Index:
    """The BM25 index of the source's collection, from ``how.cache_dir`` when it was built before: keyed by the
    collection alone (its file), so the subsets of one collection share it, and kept under the key the files give
    once it is built (a first build that downloads the collection is found by the next run)."""
    if how.cache_dir is None:
        log.info("%s: indexing the collection with BM25 (not kept: no cache folder)", source.name)
        return BM25Index.build(source.iter_passages(), settings=how.bm25)
    root = Path(how.cache_dir) / "index"

    def folder() -> tuple[Path, str]:
        key = json.dumps([source.collection_key(), asdict(how.bm25), library_settings()], sort_keys=True)
        return root / hashlib.sha256(key.encode()).hexdigest()[:16], key

    found, _ = folder()
    if (found / "done").is_file():
        return BM25Index(found)
    with file_lock(root / f".{found.name}.lock"):  # DDP ranks, or two runs: one builds, the others wait and read it
        found, _ = folder()
        if (found / "done").is_file():
            return BM25Index(found)
        log.info("%s: indexing the collection with BM25 under %s (once)", source.name, root)
        with tempfile.TemporaryDirectory(dir=root, prefix="building-") as tmp:
            BM25Index.build(source.iter_passages(), Path(tmp) / "index", how.bm25)
            found, key = folder()  # after the build, which may have downloaded the collection
            ((Path(tmp) / "index") / "key.json").write_text(key)
            ((Path(tmp) / "index") / "done").touch()
            move_into_place(Path(tmp) / "index", found)
    return BM25Index(found)


def bm25_run(source: Source, qids: Collection[str] | None, depth: int, how: FirstStage) -> Candidates:
    """BM25's top ``depth`` of the collection for ``qids``, kept under ``how.cache_dir/runs`` as a TREC run keyed by
    the source's contents, the queries and the settings (other keys' files stay: delete the folder to free it)."""
    queries = source.queries()
    wanted = {q: queries[q] for q in (qids if qids is not None else queries)}

    def cached() -> Path | None:  # the key stamps the source's files as they are when it is computed
        if how.cache_dir is None:
            return None
        key = json.dumps([source.cache_key(), asdict(how.bm25), depth, library_settings(), sorted(wanted.items())])
        return Path(how.cache_dir) / "runs" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.trec"

    found = cached()
    if found is not None and found.is_file():
        log.info("%s: BM25 run from %s", source.name, found)
        return group_run(read_run(found), None, depth)
    index = collection_index(source, how)
    candidates = group_run(index.search(wanted, depth), None, depth)
    found = cached()  # after the build, which may have downloaded files: the key later runs compute
    if found is not None and candidates:
        write_text(found, "".join(trec_lines(candidates_run(candidates), "bm25", exact=True)))
    return candidates


def name_of(source: Source, how: FirstStage, depth: int | None, reordered: bool) -> str:
    """What a first stage is, in words (``metrics.json``'s ``first_stage_name``)."""
    if how.mode == "bm25" or not source.has_run():
        return f"{how.bm25.describe()}, top {depth or RETRIEVAL_DEPTH} of {source.name}'s collection"
    if reordered:
        return f"{source.name}'s run (no scores), ordered by {how.bm25.describe()} over its collection"
    describe = getattr(source, "describe_first_stage", None)  # a source that knows what its run is
    return describe() if describe is not None else f"{source.name}'s run"


class RunRows:
    """A source's run streamed as rows, grouped by query, each group cut at ``depth`` (trec_eval's order); a run
    without scores ordered by BM25 first (``first_stage: auto``) or refused (``run``). ``name`` says which, once the
    first group is read."""

    def __init__(self, source: Source, depth: int | None, how: FirstStage, qids: Collection[str] | None = None) -> None:
        self.source, self.depth, self.how = source, depth, how
        self.qids = set(qids) if qids is not None else None  # only these queries (before any ordering)
        self.name = name_of(source, how, depth, reordered=False)

    def __iter__(self) -> Iterator[RunRow]:
        groups = grouped(self.source.iter_run(), self.source.name)
        if self.qids is not None:
            groups = (g for g in groups if g[0] in self.qids)
        seen = []
        for group in groups:  # up to the first list of two or more: what tells whether the run has scores
            seen.append(group)
            if len(group[1]) > 1:
                break
        if not seen:
            return
        groups = itertools.chain(seen, groups)
        if unscored(seen[-1][1]):
            refuse_unordered(self.source, self.how, self.depth)
            self.name = name_of(self.source, self.how, self.depth, reordered=True)
            index = collection_index(self.source, self.how)
            groups = order_by_bm25(groups, index, self.source.queries(), self.depth)
        elif self.depth is not None:
            groups = ((q, sorted(items, key=order_key, reverse=True)[: self.depth]) for q, items in groups)
        for qid, items in groups:
            for pid, score in items:
                yield qid, pid, score


def grouped(rows: Iterator[RunRow], name: str) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """Rows grouped by query; a query that shows up again after another is an error (a run must be grouped)."""
    done: set[str] = set()
    for qid, group in itertools.groupby(rows, key=lambda r: r[0]):
        if qid in done:
            raise DataError(f"{name}: the run is not grouped by query (qid {qid!r} appears twice); sort it by qid")
        done.add(qid)
        yield qid, [(pid, score) for _, pid, score in group]


def candidates_run(candidates: Candidates) -> dict[str, dict[str, float]]:
    """Candidates as a run ``{qid: {pid: score}}``."""
    return {q: dict(items) for q, items in candidates.items()}
