"""Training examples: (query, passage, label) pairs with judged positives and sampled negatives.

Everything is seeded: the same source, config and seed give the same pairs in the same order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossrank.data.candidates import mode_of
from crossrank.data.trec import Qrels
from crossrank.errors import ConfigError

if TYPE_CHECKING:
    from crossrank.data.runfile import ArrowCandidates

#: ``data.teacher_run: source``: the training source's own run holds the teacher's scores (``data=msmarco_kd``).
TEACHER_IN_SOURCE = "source"
#: ``data.negatives``: training negatives from the first stage, or from a run ``crossrank mine`` wrote.
NEGATIVES = ("first_stage", "mined")


def check_negatives(negatives: str, mined_run: object) -> None:
    """``data.negatives`` and ``data.mined_run`` agree (the file's existence is checked where it is read)."""
    if negatives not in NEGATIVES:
        raise ConfigError(f"data.negatives: {negatives!r} (expected {' or '.join(NEGATIVES)})")
    if negatives == "mined" and not mined_run:
        raise ConfigError("data.negatives: mined needs data.mined_run (a TREC run from crossrank mine)")
    if negatives == "first_stage" and mined_run:
        raise ConfigError("data.mined_run: is read only with data.negatives=mined")


def check_teacher(teacher_run: object, negatives: str, first_stage: str) -> None:
    """``data.teacher_run: source`` scores the source's own candidates: negatives from elsewhere (BM25 over the whole
    collection, a mined run) have no score in it, which the build would find only after all its work."""
    if teacher_run != TEACHER_IN_SOURCE:
        return
    if mode_of(first_stage) == "bm25":
        raise ConfigError(f"data.first_stage: {first_stage} retrieves negatives the source's run does not score; "
                          "data.teacher_run: source needs data.first_stage=auto or run")
    if negatives == "mined":
        raise ConfigError("data.negatives: mined negatives are not in the source's run; data.teacher_run: source "
                          "needs data.negatives=first_stage (or score the mined run with crossrank teach)")


@dataclass(frozen=True)
class PairSpec:
    """How pairs are drawn from a source (all config keys under ``data.pairs``)."""

    num_queries: int | None = None  # training queries to sample; None = every query with a positive
    positives_per_query: int | None = 1  # None = every judged positive
    negatives_per_query: int | None = 30  # None = every candidate that is not a positive
    min_relevance: int | None = 1  # qrels relevance >= this is a positive (None: the folder's dataset.yaml, else 1)
    candidate_depth: int | None = 1000  # negatives come from the first stage's top-k
    val_queries: int = 0  # queries held out of training for validation
    seed: int = 42
    exclude_queries: tuple[str, ...] | list[str] | None = None  # never trained or validated on (cross-validation)

    @property
    def level(self) -> int:
        """The relevance that makes a positive, once ``min_relevance`` is resolved (1 while it is None)."""
        return self.min_relevance if self.min_relevance is not None else 1


def check_batching(batch_size: int, group_size: int | None, length_grouped: bool = False) -> None:
    """Batches that can be built: query groups that fill a batch exactly, and no length grouping of them (a
    group mixes lengths)."""
    if group_size is not None and (int(group_size) < 2 or int(batch_size) % int(group_size)):
        raise ConfigError(f"data.group_size: {group_size} must be at least 2 and divide data.batch_size "
                          f"({batch_size})")
    if group_size and length_grouped:
        raise ConfigError("data.length_grouped: does not apply to query groups (data.group_size is set: a group "
                          "mixes lengths); set data.length_grouped=false")


def positives(qrels: Qrels, qid: str, min_relevance: int) -> list[str]:
    """Judged positives of ``qid``, sorted by id for determinism."""
    return sorted(pid for pid, rel in qrels.get(qid, {}).items() if rel >= min_relevance)


def split_queries(qrels: Qrels, spec: PairSpec, has_text: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Seeded split into (training qids, validation qids) among queries that have a positive."""
    excluded = set(spec.exclude_queries or ())
    eligible = sorted(
        q for q in qrels
        if q not in excluded
        and any(has_text is None or p in has_text for p in positives(qrels, q, spec.level))
    )
    rng = random.Random(spec.seed)
    rng.shuffle(eligible)
    val = sorted(eligible[: spec.val_queries])
    train = eligible[spec.val_queries:]
    if spec.num_queries is not None:
        train = train[: spec.num_queries]
    return train, val


def pair_table(train_qids: list[str], qrels: Qrels, candidates: ArrowCandidates, spec: PairSpec,
               has_text: set[str] | None = None) -> Any:
    """The training pairs as an Arrow table ``(qid, pid, label, row)``: per query its positives, then its sampled
    negatives; queries in ``train_qids`` order; ``row``: the pair's row in ``candidates.table`` (-1: a positive the
    candidates do not list).

    A negative is a first-stage candidate (within ``candidate_depth``) judged below ``min_relevance`` or not judged
    at all. Passages without text (not in ``has_text``, when given) are skipped. The candidates stay in Arrow and
    numpy (MS MARCO's teacher file is 40M of them): only the seeded draws are Python calls, one or two per query,
    drawing what ``random.sample`` on the lists would (the same pairs as ever for the same seed)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    table = candidates.table
    level = spec.level
    judged_keys = pa.array([f"{q}\t{p}" for q, judged in qrels.items() for p, r in judged.items() if r >= level],
                           type=pa.string())
    keys = pc.binary_join_element_wise(table.column("qid"), table.column("pid"), "\t")
    judged_row = pc.is_in(keys, value_set=judged_keys).to_numpy(zero_copy_only=False)  # a listed positive
    del keys
    usable = ~judged_row
    if has_text is not None:
        usable &= pc.is_in(table.column("pid"), value_set=pa.array(sorted(has_text))).to_numpy(zero_copy_only=False)
    rng = random.Random(spec.seed)
    pid_column = table.column("pid")
    out_q: list[str] = []
    pos_pids: list[str] = []
    pos_rows: list[int] = []  # a positive's row among the candidates, -1 when it is not listed
    counts: list[tuple[int, int]] = []  # (positives, negatives) per kept query
    neg_rows: list[np.ndarray] = []
    for qid in train_qids:
        pos = [p for p in positives(qrels, qid, level) if has_text is None or p in has_text]
        if not pos:
            continue
        if spec.positives_per_query is not None and len(pos) > spec.positives_per_query:
            pos = sorted(rng.sample(pos, spec.positives_per_query))
        start, end = candidates.spans.get(qid, (0, 0))
        listed = {pid_column[int(r)].as_py(): int(r) for r in start + np.flatnonzero(judged_row[start:end])}
        pos_rows += [listed.get(p, -1) for p in pos]
        for depth in (candidates.depth, spec.candidate_depth):  # the lists may be deeper (validation)
            if depth is not None:
                end = min(end, start + depth)
        pool = start + np.flatnonzero(usable[start:end])
        n = spec.negatives_per_query
        if n is not None and len(pool) > n:
            pool = pool[rng.sample(range(len(pool)), n)]
        out_q.append(qid)
        pos_pids += pos
        counts.append((len(pos), len(pool)))
        neg_rows.append(pool)
    n_pos, n_neg = (np.array(c, dtype=np.int64) for c in zip(*counts)) if counts else (np.zeros(0, np.int64),) * 2
    starts = np.r_[0, np.cumsum(n_pos + n_neg)[:-1]].astype(np.int64)
    take = np.empty(int((n_pos + n_neg).sum()), dtype=np.int64)
    is_pos = np.zeros(len(take), dtype=bool)
    pos_at = np.repeat(starts, n_pos) + _within(n_pos)
    take[pos_at] = len(table) + np.arange(len(pos_pids))
    is_pos[pos_at] = True
    take[np.repeat(starts + n_pos, n_neg) + _within(n_neg)] = np.concatenate(neg_rows) if neg_rows else []
    pids = pa.concat_arrays([table.column("pid").combine_chunks().cast(pa.string()), pa.array(pos_pids, pa.string())])
    return pa.table({"qid": pa.array(out_q, pa.string()).take(np.repeat(np.arange(len(out_q)), n_pos + n_neg)),
                     "pid": pids.take(take), "label": pa.array(is_pos.astype(np.float32)),
                     "row": pa.array(np.where(is_pos, np.asarray(pos_rows, dtype=np.int64)[
                         np.cumsum(is_pos) - 1] if pos_rows else -1, take))})


def _within(sizes: Any) -> Any:
    """0, 1, .. size - 1 for each size, concatenated."""
    import numpy as np

    total = int(sizes.sum())
    return np.arange(total) - np.repeat(np.r_[0, np.cumsum(sizes)[:-1]], sizes)
