"""Zero-shot teachers: scorers of (query, passage) texts that need no training. A teacher's scores are distilled
in training (``data.teacher_run``, written by ``crossrank teach``), mine hard negatives (``crossrank mine``) and are
fused with the reranker in evaluation (``eval.teacher``).

``bi-encoder`` is the packaged all-MiniLM-L6-v2 (``bi-encoder:PATH``: any sentence-transformers model) scoring by
the cosine of the two embeddings; any other value is a cross-encoder folder or Hub id, scoring by its logit. Both
run on the GPU when there is one. :func:`score_many` scores millions of pairs with each passage's text fetched and
encoded once, a batch of passages at a time, and one score a pair kept (never an embedding a pair)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.errors import ConfigError

log = logging.getLogger(__name__)

#: ``(queries, passages) -> scores``, one per pair.
TeacherFn = Callable[[Sequence[str], Sequence[str]], list[float]]


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class BiEncoder:
    """A scorer by the cosine of sentence embeddings. Called on text pairs, each distinct text is encoded once
    (SciFact's 300 test claims x 100 candidates are 30,000 pairs but about 5,000 passages)."""

    def __init__(self, path: str | None = None, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        from crossrank.models.hub import packaged_minilm

        self.model = SentenceTransformer(path or packaged_minilm(), device=device())
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], what: str = "texts", progress: bool = True) -> Any:
        show = progress and len(texts) > 1000
        if show:
            log.info("bi-encoder: encoding %d distinct %s", len(texts), what)
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_tensor=True, show_progress_bar=show)

    def __call__(self, queries: Sequence[str], passages: Sequence[str]) -> list[float]:
        q_text, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        p_text, p_index = np.unique(np.asarray(passages, dtype=object), return_inverse=True)
        return self.pairs(self.encode(q_text.tolist(), "queries"), q_index, p_text.tolist(), p_index).tolist()

    def pairs(self, queries: Any, q_index: np.ndarray, passages: Sequence[str], p_index: np.ndarray,
              progress: bool = True) -> np.ndarray:
        """Scores of pairs ``(queries[q_index[i]], passages[p_index[i]])``: the passages encoded once, the dot
        products taken a chunk of pairs at a time."""
        import torch

        p_emb = self.encode(passages, "passages", progress)
        out = np.empty(len(q_index), dtype=np.float32)
        for start in range(0, len(q_index), 65536):
            q = torch.as_tensor(q_index[start: start + 65536], device=p_emb.device)
            p = torch.as_tensor(p_index[start: start + 65536], device=p_emb.device)
            out[start: start + len(q)] = (queries[q] * p_emb[p]).sum(-1).float().cpu().numpy()
        return out


class CrossEncoder:
    """A scorer by a trained cross-encoder folder or Hub id (its raw logits), on the GPU when there is one."""

    def __init__(self, path: str) -> None:
        from crossrank.models.reranker import Reranker

        self.reranker = Reranker(path, device=device())

    def __call__(self, queries: Sequence[str], passages: Sequence[str]) -> list[float]:
        return self.reranker.predict(list(zip(queries, passages))).tolist()

    def encode(self, texts: Sequence[str], what: str = "texts", progress: bool = True) -> Any:
        return list(texts)  # a cross-encoder reads the query beside each passage

    def pairs(self, queries: Any, q_index: np.ndarray, passages: Sequence[str], p_index: np.ndarray,
              progress: bool = True) -> np.ndarray:
        return np.asarray(self([queries[int(i)] for i in q_index], [passages[int(i)] for i in p_index]),
                          dtype=np.float32)


def load_teacher(teacher: str, what: str = "--teacher") -> tuple[BiEncoder | CrossEncoder, str]:
    """A scorer of texts and its tag: ``bi-encoder[:PATH]`` or a cross-encoder folder or Hub id. Loaded once per
    process: a training run scores the validation pairs and then the evaluation set's with the same teacher."""
    if not teacher:
        raise ConfigError(f"{what}: empty (bi-encoder[:PATH] or a cross-encoder folder)")
    return _load_teacher(teacher)


@functools.lru_cache(maxsize=4)
def _load_teacher(teacher: str) -> tuple[BiEncoder | CrossEncoder, str]:
    if teacher == "bi-encoder" or teacher.startswith("bi-encoder:"):
        return BiEncoder(teacher.partition(":")[2] or None), "bi-encoder"
    return CrossEncoder(teacher), Path(teacher).name or "teacher"


def score_pairs(fn: TeacherFn, pairs: Sequence[tuple[str, str]], queries: dict[str, str],
                texts: dict[str, str]) -> dict[str, dict[str, float]]:
    """``{qid: {pid: teacher score}}`` for (qid, pid) pairs whose texts are in ``queries`` and ``texts``."""
    scores = fn([queries[q] for q, _ in pairs], [texts[p] for _, p in pairs]) if pairs else []
    run: dict[str, dict[str, float]] = {}
    for (qid, pid), score in zip(pairs, scores):
        run.setdefault(qid, {})[pid] = float(score)
    return run


def score_many(teacher: BiEncoder | CrossEncoder, query_texts: Sequence[str], pair_query: np.ndarray,
               passage_ids: Sequence[str], pair_passage: np.ndarray,
               fetch: Callable[[Sequence[str]], Mapping[str, str]], batch: int = 8192) -> np.ndarray:
    """Scores of many pairs ``(query_texts[pair_query[i]], passage_ids[pair_passage[i]])``: the passages are taken a
    batch at a time (``fetch`` gives their texts, once each; a passage it has no text for scores NaN), encoded, and
    the pairs that hold them scored; memory holds one batch's texts and one score a pair."""
    queries = teacher.encode(list(query_texts), "queries")
    order = np.argsort(pair_passage, kind="stable")
    batches = -(-len(passage_ids) // batch)
    log.info("teacher: scoring %d pairs over %d passages, %d batches of passages", len(pair_query),
             len(passage_ids), batches)
    edges = np.searchsorted(pair_passage[order], np.arange(0, len(passage_ids) + batch, batch))
    scores = np.full(len(pair_query), np.nan, dtype=np.float32)
    for b, start in enumerate(range(0, len(passage_ids), batch)):
        chosen = order[edges[b]: edges[b + 1]]
        if not len(chosen):
            continue
        ids = list(passage_ids[start: start + batch])
        texts = fetch(ids)
        known = np.array([i in texts for i in ids], dtype=bool)
        chosen = chosen[known[pair_passage[chosen] - start]]
        if not len(chosen):
            continue
        present = [i for i in ids if i in texts]
        local = np.cumsum(known) - 1  # a passage's place among those with a text
        scores[chosen] = teacher.pairs(queries, pair_query[chosen], [texts[i] for i in present],
                                       local[pair_passage[chosen] - start], progress=False)
    return scores
