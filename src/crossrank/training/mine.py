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

from crossrank.data.candidates import first_stage
from crossrank.data.pairs import positives
from crossrank.data.sources import Source
from crossrank.data.trec import trec_lines
from crossrank.errors import ConfigError
from crossrank.files import write_text

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
    """``{qid: {pid: teacher score}}`` of every query with a positive, and a summary of what was kept and why."""
    from crossrank.training.teach import teacher_scores

    qrels = source.qrels()
    queries = sorted(q for q in qrels if positives(qrels, q, settings.level))
    candidates = first_stage(source, set(queries), settings.depth)
    pairs = [(q, p) for q in queries for p in dict.fromkeys([p for p, _ in candidates.get(q, [])]
                                                               + positives(qrels, q, settings.level))]
    texts = source.passages({p for _, p in pairs})
    scored, tag = teacher_scores(source, teacher, [pair for pair in pairs if pair[1] in texts])
    rng = random.Random(settings.seed)
    run: RunDict = {}
    dropped = 0
    for qid in queries:
        kept, lost = select_negatives(scored.get(qid, {}), qrels[qid], settings, rng)
        dropped += lost
        if kept:
            run[qid] = dict(kept)
    unscored = sum(1 for q in queries if not any(p in scored.get(q, {}) for p in positives(qrels, q, settings.level)))
    summary = {"teacher": tag, "queries": len(queries), "queries_with_negatives": len(run),
               "queries_with_unscored_positives": unscored,
               "negatives": sum(len(v) for v in run.values()), "dropped_by_margin": dropped,
               "settings": asdict(settings)}
    return run, summary


def write_mined(run: RunDict, out: str, tag: str) -> None:
    """The mined negatives as a TREC run (each query's hardest first), written atomically."""
    write_text(out, "".join(trec_lines(run, f"mined-{tag}")))
