"""Zero-shot teachers: scorers of (query, passage) texts that need no training. A teacher's scores are distilled
in training (``data.teacher_run``, written by ``crossrank teach``) and fused with the reranker in evaluation
(``eval.teacher``).

``bi-encoder`` is the packaged all-MiniLM-L6-v2 (``bi-encoder:PATH``: any sentence-transformers model) scoring by
the cosine of the two embeddings; any other value is a cross-encoder folder or Hub id, scoring by its logit."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crossrank.errors import ConfigError

log = logging.getLogger(__name__)

#: ``(queries, passages) -> scores``, one per pair.
TeacherFn = Callable[[Sequence[str], Sequence[str]], list[float]]


def bi_encoder(path: str | None = None, batch_size: int = 64) -> TeacherFn:
    """A scorer of (query, passage) texts by the cosine of their sentence embeddings. Each distinct text is
    encoded once (SciFact's 300 test claims x 100 candidates are 30,000 pairs but about 5,000 passages), with a
    progress bar when there are many."""
    from sentence_transformers import SentenceTransformer

    from crossrank.models.hub import packaged_minilm

    model = SentenceTransformer(path or packaged_minilm(), device="cpu")

    def encode(texts: Sequence[str], what: str) -> tuple[Any, dict[str, int]]:
        unique = sorted(set(texts))
        if len(unique) > 1000:
            log.info("bi-encoder: encoding %d distinct %s", len(unique), what)
        vectors = model.encode(unique, batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True,
                               show_progress_bar=len(unique) > 1000)
        return vectors, {text: i for i, text in enumerate(unique)}

    def score(queries: Sequence[str], passages: Sequence[str]) -> list[float]:
        q_emb, q_index = encode(queries, "queries")
        p_emb, p_index = encode(passages, "passages")
        rows = q_emb[[q_index[q] for q in queries]]
        return (rows * p_emb[[p_index[p] for p in passages]]).sum(-1).tolist()

    return score


def cross_encoder(path: str) -> TeacherFn:
    """A scorer by a trained cross-encoder folder or Hub id (its raw logits)."""
    from crossrank.models.reranker import Reranker

    reranker = Reranker(path)
    return lambda queries, passages: reranker.predict(list(zip(queries, passages))).tolist()


def load_teacher(teacher: str, what: str = "--teacher") -> tuple[TeacherFn, str]:
    """A scorer of texts and its tag: ``bi-encoder[:PATH]`` or a cross-encoder folder or Hub id. Loaded once per
    process: a training run scores the validation pairs and then the evaluation set's with the same teacher."""
    if not teacher:
        raise ConfigError(f"{what}: empty (bi-encoder[:PATH] or a cross-encoder folder)")
    return _load_teacher(teacher)


@functools.lru_cache(maxsize=4)
def _load_teacher(teacher: str) -> tuple[TeacherFn, str]:
    if teacher == "bi-encoder" or teacher.startswith("bi-encoder:"):
        return bi_encoder(teacher.partition(":")[2] or None), "bi-encoder"
    return cross_encoder(teacher), Path(teacher).name or "teacher"


def score_pairs(fn: TeacherFn, pairs: Sequence[tuple[str, str]], queries: dict[str, str],
                texts: dict[str, str]) -> dict[str, dict[str, float]]:
    """``{qid: {pid: teacher score}}`` for (qid, pid) pairs whose texts are in ``queries`` and ``texts``."""
    scores = fn([queries[q] for q, _ in pairs], [texts[p] for _, p in pairs]) if pairs else []
    run: dict[str, dict[str, float]] = {}
    for (qid, pid), score in zip(pairs, scores):
        run.setdefault(qid, {})[pid] = float(score)
    return run
