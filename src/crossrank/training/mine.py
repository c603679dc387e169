"""Hard negatives mined with a teacher (``crossrank mine``), written as a TREC run the pair builder reads
(``data.negatives=mined data.mined_run=FILE``):

    crossrank mine --data DIR --teacher bi-encoder --out mined.run [--ranks 10:100] [--margin 0.05]
    crossrank mine --dataset-id ID --teacher OUT/model --out mined.run --relative-margin 0.05 --num-negatives 8

Each query's first-stage candidates (top ``--depth``) and judged positives are scored by the teacher (the
bi-encoder, any crossrank reranker, or ``run:FILE``). A candidate is kept as a negative when it is judged below
the relevance level, ranks within ``--ranks`` by the teacher's score, and scores clearly below the query's weakest
positive: ``score <= positive - margin`` (absolute) or ``score <= positive - relative_margin * |positive|``. The
relative rule subtracts a share of the positive's magnitude, so it holds for negative scores (logits) too;
sentence-transformers' ``mine_hard_negatives`` multiplies by ``1 - relative_margin``, which lets a negative
score above a negative-scored positive (its issue #3819). Candidates the teacher scores about as high as the
positive are the likely false negatives (unjudged relevant passages), and the margin drops them; at least the
default ``margin: 0`` drops every candidate scored above the positive. Of what is left, ``--num-negatives`` are
kept, the hardest first (``--sampling top``) or at random (seeded).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from crossrank.data.candidates import commands_first_stage, first_stage
from crossrank.data.pairs import positives
from crossrank.data.runfile import ArrowCandidates, as_arrow
from crossrank.data.sources import Source
from crossrank.data.trec import Qrels, trec_lines
from crossrank.errors import ConfigError
from crossrank.files import write_text
from crossrank.models.teachers import load_teacher, score_many

if TYPE_CHECKING:
    from crossrank.evaluation.metrics import RunDict

SAMPLING = ("top", "random")


@dataclass(frozen=True)
class MineSettings:
    """What makes a mined negative (``crossrank mine``'s options)."""

    depth: int | None = 100  # first-stage candidates scored per query
    ranks: tuple[int, int | None] = (1, None)  # teacher ranks kept, 1-based and inclusive (None: to the last)
    margin: float | None = 0.0  # absolute: score <= weakest positive - margin (None with no relative margin: no limit)
    relative_margin: float | None = None  # relative: score <= weakest positive - relative_margin * |positive|
    num_negatives: int | None = 30  # per query (None: all that pass)
    sampling: str = "top"
    level: int = 1  # judged relevance >= level is a positive
    seed: int = 42

    def __post_init__(self) -> None:
        if self.margin is not None and self.relative_margin is not None:
            raise ConfigError("--margin, --relative-margin: give one of the two")
        if self.sampling not in SAMPLING:
            raise ConfigError(f"--sampling: {self.sampling!r} (expected {' or '.join(SAMPLING)})")
        low, high = self.ranks
        if low < 1 or (high is not None and high < low):
            raise ConfigError(f"--ranks: {low}:{high or ''} is not a range of ranks from 1")
        for name in ("depth", "num_negatives"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')}: {value} must be at least 1")


def threshold(positive: float, settings: MineSettings) -> float:
    """The highest score a negative may have, given the query's weakest positive score (no limit when neither
    margin is set)."""
    if settings.relative_margin is not None:
        return positive - settings.relative_margin * abs(positive)
    return positive - settings.margin if settings.margin is not None else float("inf")


def select_negatives(scores: dict[str, float], judged: dict[str, int], settings: MineSettings,
                     rng: random.Random) -> tuple[list[tuple[str, float]], int]:
    """One query's mined negatives (pid, teacher score), hardest first, and how many candidates the margin
    dropped as likely false negatives; ``scores`` holds the teacher's scores of its candidates and positives."""
    pos = [scores[p] for p in judged if judged[p] >= settings.level and p in scores]
    if not pos:
        return [], 0
    limit = threshold(min(pos), settings)
    ranked = sorted(((p, s) for p, s in scores.items() if judged.get(p, 0) < settings.level),
                    key=lambda item: (-item[1], item[0]))
    low, high = settings.ranks
    in_range = ranked[low - 1: high]
    kept = [(p, s) for p, s in in_range if s <= limit]
    n = settings.num_negatives
    if n is not None and len(kept) > n:
        kept = kept[:n] if settings.sampling == "top" else sorted(rng.sample(kept, n), key=lambda i: (-i[1], i[0]))
    return kept, len(in_range) - len([1 for _, s in in_range if s <= limit])


def mine(source: Source, teacher: str, settings: MineSettings) -> tuple[RunDict, dict[str, Any]]:
    """``{qid: {pid: teacher score}}`` of every query with a positive, and a summary of what was kept and why. The
    pairs are arrays and the teacher scores them with each passage's text fetched and encoded once, a batch at a time
    (:func:`~crossrank.models.teachers.score_many`): memory holds a few bytes a pair, never an embedding a pair."""
    from crossrank.training.teach import check_teacher, teacher_scores

    check_teacher(teacher)
    qrels = source.qrels()
    queries = sorted(q for q in qrels if positives(qrels, q, settings.level))
    pairs = MinedPairs(queries, qrels, as_arrow(first_stage(source, set(queries), settings.depth,
                                                            commands_first_stage())), settings)
    if teacher.startswith("run:"):
        run_scores, tag = teacher_scores(source, teacher, pairs.tuples())
        scores = np.array([run_scores.get(q, {}).get(p, np.nan) for q, p in pairs.tuples()], dtype=np.float32)
    else:
        fn, tag = load_teacher(teacher)
        texts = source.queries()
        scores = score_many(fn, [texts[q] for q in queries], pairs.query, pairs.pids, pairs.passage,
                            source.passages)
    rng = random.Random(settings.seed)
    run: RunDict = {}
    dropped = unscored = 0
    for i, qid in enumerate(queries):
        start, end = pairs.starts[i], pairs.starts[i + 1]
        scored = {pairs.pids[p]: s for p, s in zip(pairs.passage[start:end].tolist(), scores[start:end].tolist())
                  if s == s}  # NaN: no text, or not in the teacher's run
        kept, lost = select_negatives(scored, qrels[qid], settings, rng)
        dropped += lost
        unscored += not any(p in scored for p in positives(qrels, qid, settings.level))
        if kept:
            run[qid] = dict(kept)
    summary = {"teacher": tag, "queries": len(queries), "queries_with_negatives": len(run),
               "queries_with_unscored_positives": unscored,
               "negatives": sum(len(v) for v in run.values()), "dropped_by_margin": dropped,
               "settings": asdict(settings)}
    return run, summary


class MinedPairs:
    """The pairs mining scores, in arrays: per query (in ``queries`` order) its first-stage candidates (top
    ``settings.depth``) then its positives that are not among them; ``query[i]`` indexes ``queries``, ``passage[i]``
    indexes ``pids``, and query ``k``'s pairs are ``starts[k]`` to ``starts[k + 1]``."""

    def __init__(self, queries: list[str], qrels: Qrels, candidates: ArrowCandidates, settings: MineSettings) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        table, spans = candidates.table, candidates.spans
        rows, counts, extra = [], [], []
        for qid in queries:
            start, end = spans.get(qid, (0, 0))
            for depth in (candidates.depth, settings.depth):
                if depth is not None:
                    end = min(end, start + depth)
            rows.append(np.arange(start, end))
            listed = set(table.column("pid").slice(start, end - start).to_pylist()) if end > start else set()
            missing = [p for p in positives(qrels, qid, settings.level) if p not in listed]
            extra += missing
            counts.append((end - start, len(missing)))
        n_cand, n_pos = (np.array(c, dtype=np.int64) for c in zip(*counts)) if counts else (np.zeros(0, np.int64),) * 2
        taken = table.column("pid").take(pa.array(np.concatenate(rows) if rows else [], pa.int64()))
        every = pa.concat_arrays([taken.combine_chunks().cast(pa.string()), pa.array(extra, pa.string())])
        codes = pc.dictionary_encode(every)
        self.pids: list[str] = codes.dictionary.to_pylist()
        code = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        self.starts = np.r_[0, np.cumsum(n_cand + n_pos)].astype(np.int64)
        order = np.empty(len(code), dtype=np.int64)  # each query's candidates, then its added positives
        within_c = np.arange(int(n_cand.sum())) - np.repeat(np.r_[0, np.cumsum(n_cand)[:-1]], n_cand)
        within_p = np.arange(int(n_pos.sum())) - np.repeat(np.r_[0, np.cumsum(n_pos)[:-1]], n_pos)
        order[np.repeat(self.starts[:-1], n_cand) + within_c] = np.arange(int(n_cand.sum()))
        order[np.repeat(self.starts[:-1] + n_cand, n_pos) + within_p] = int(n_cand.sum()) + np.arange(int(n_pos.sum()))
        self.passage = code[order]
        self.query = np.repeat(np.arange(len(queries)), n_cand + n_pos)
        self.queries = queries

    def tuples(self) -> list[tuple[str, str]]:
        """The pairs as (qid, pid) (small sets, a run's scores)."""
        return [(self.queries[q], self.pids[p]) for q, p in zip(self.query.tolist(), self.passage.tolist())]


def write_mined(run: RunDict, out: str, tag: str) -> None:
    """The mined negatives as a TREC run (each query's hardest first), written atomically."""
    write_text(out, "".join(trec_lines(run, f"mined-{tag}")))
