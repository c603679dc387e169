"""Teacher scores for distillation, written as a TREC run (``crossrank teach``):

    crossrank teach --data DIR --teacher bi-encoder --out teacher.run [--depth 100]
    crossrank teach --data DIR --teacher OUT/model --out teacher.run     # any crossrank reranker
    crossrank teach --data DIR --teacher run:FILE --out teacher.run      # an existing run's scores

Scores every query's first-stage candidates (top ``--depth``: the folder's run, else BM25) and its judged
passages, which training pairs may hold though the first stage missed them. Train on them with
``data.teacher_run=teacher.run`` and ``loss=margin_mse`` or ``loss=kl_div`` (``data.group_size`` set).
The teachers are :mod:`crossrank.models.teachers`'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossrank.data.candidates import commands_first_stage, first_stage
from crossrank.data.sources import Source, load_source
from crossrank.data.trec import read_run, trec_lines
from crossrank.errors import ConfigError
from crossrank.evaluation.metrics import RunDict
from crossrank.files import write_text
from crossrank.models.teachers import load_teacher, score_many

Pairs = list[tuple[str, str]]


def teacher_pairs(source: Source, depth: int | None = 100) -> Pairs:
    """(qid, pid) pairs to score: each query's top ``depth`` candidates, then its judged passages with text."""
    qrels = source.qrels()
    candidates = first_stage(source, None, depth, commands_first_stage())
    wanted = [(qid, pid) for qid in sorted(set(candidates) | set(qrels))
              for pid in [p for p, _ in candidates.get(qid, [])] + sorted(qrels.get(qid, {}))]
    texts = source.passages({pid for _, pid in wanted})
    return list(dict.fromkeys(pair for pair in wanted if pair[1] in texts))


def check_teacher(teacher: str, what: str = "--teacher") -> None:
    """A bad teacher fails now, before a first stage is built (on MS MARCO, a BM25 index): a ``run:FILE`` exists, a
    model loads (and stays loaded for :func:`teacher_scores`)."""
    if teacher.startswith("run:"):
        if not Path(teacher[4:]).is_file():
            raise ConfigError(f"{what}: {teacher[4:]} does not exist")
    else:
        load_teacher(teacher, what)


def teacher_scores(source: Source, teacher: str, pairs: Pairs, what: str = "--teacher") -> tuple[RunDict, str]:
    """The teacher's score of each pair it scores, and its tag: a model (:func:`load_teacher`; each passage's text
    fetched once, a batch at a time, :func:`~crossrank.models.teachers.score_many`), or ``run:FILE`` (the scores an
    existing TREC run gives those pairs; pairs it lacks are left out)."""
    if teacher.startswith("run:"):
        check_teacher(teacher, what)
        given = Path(teacher[4:])
        wanted = set(pairs)
        run: RunDict = {}
        for qid, pid, score in read_run(given):
            if (qid, pid) in wanted:
                run.setdefault(qid, {})[pid] = score
        if not run:
            raise ConfigError(f"{what}: {given} scores none of {source.name}'s pairs")
        return run, given.stem
    fn, tag = load_teacher(teacher, what)
    qids, q_index = np.unique(np.asarray([q for q, _ in pairs], dtype=object), return_inverse=True)
    pids, p_index = np.unique(np.asarray([p for _, p in pairs], dtype=object), return_inverse=True)
    queries = source.queries()
    scores = score_many(fn, [queries[q] for q in qids.tolist()], q_index, pids.tolist(), p_index, source.passages)
    scored: RunDict = {}
    for (qid, pid), score in zip(pairs, scores.tolist()):
        if score == score:  # NaN: the passage has no text
            scored.setdefault(qid, {})[pid] = score
    return scored, tag


def teach(data: str, teacher: str, out: str, depth: int | None = 100) -> int:
    """Write the teacher's scores of ``data``'s pairs to ``out`` (a TREC run); the number of pairs scored."""
    source = load_source(kind="local", path=data)
    check_teacher(teacher)
    run, tag = teacher_scores(source, teacher, teacher_pairs(source, depth))
    write_text(out, "".join(trec_lines(run, f"teach-{tag}")))
    return sum(len(v) for v in run.values())
