"""Training examples: (query, passage, label) pairs with judged positives and sampled negatives.

Everything is seeded: the same source, config and seed give the same pairs in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from crossrank.data.trec import Qrels
from crossrank.errors import ConfigError

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


def iter_pairs(train_qids: list[str], qrels: Qrels, candidates: Mapping[str, list[tuple[str, float]]], spec: PairSpec,
               has_text: set[str] | None = None) -> Iterator[tuple[str, str, float]]:
    """Yield (qid, pid, label): per query its positives, then its sampled negatives.

    A negative is a first-stage candidate judged below ``min_relevance`` or not judged at all.
    Passages without text (not in ``has_text``, when given) are skipped. Queries are visited in
    ``train_qids`` order.
    """
    def ok(p: str) -> bool:
        return has_text is None or p in has_text

    rng = random.Random(spec.seed)
    for qid in train_qids:
        judged = qrels.get(qid, {})
        pos = [p for p in positives(qrels, qid, spec.level) if ok(p)]
        if not pos:
            continue
        if spec.positives_per_query is not None and len(pos) > spec.positives_per_query:
            pos = sorted(rng.sample(pos, spec.positives_per_query))
        ranked = candidates.get(qid, [])[: spec.candidate_depth]  # the lists may be deeper (validation)
        pool = [p for p, _ in ranked if judged.get(p, 0) < spec.level and ok(p)]
        if spec.negatives_per_query is not None and len(pool) > spec.negatives_per_query:
            pool = rng.sample(pool, spec.negatives_per_query)
        for p in pos:
            yield qid, p, 1.0
        for p in pool:
            yield qid, p, 0.0
