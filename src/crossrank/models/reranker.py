"""The public inference API, with the semantics of sentence-transformers' ``CrossEncoder``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from crossrank.models.scorer import BACKENDS, CrossEncoderScorer

__all__ = ["BACKENDS", "Reranker"]


class Reranker:
    """A trained cross-encoder for scoring and ranking.

    Args:
        name_or_path: an exported crossrank folder, any 1-logit HF cross-encoder folder, or a hub id.
        max_length: tokens per pair (default: the folder's own limit, as ``CrossEncoder`` and
            ``evaluate.py`` use).
        device: ``cpu``, ``cuda``... (default: cuda when available).
        backend: how scores are computed, one of :data:`BACKENDS`: ``torch`` (fp32, the default),
            ``torch-bf16``, ``onnx``, ``onnx-int8`` (see :mod:`crossrank.models.backends`).
        compile: run the model through ``torch.compile`` (pays for long scoring jobs).

    Raises:
        crossrank.errors.ConfigError: no model at ``name_or_path``, or not a 1-logit cross-encoder.
    """

    def __init__(self, name_or_path: str, max_length: int | None = None, device: str | None = None,
                 backend: str = "torch", compile: bool = False) -> None:
        from crossrank.models.backends import apply

        scorer = CrossEncoderScorer.from_pretrained(name_or_path, max_length=max_length, num_labels=None,
                                                    what="Reranker: name_or_path", backend=backend)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.scorer = apply(scorer.to(self.device).eval(), backend, what="Reranker: backend", compile=compile)

    def predict(self, pairs: Sequence[Sequence[str]] | Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Raw relevance logits for (query, passage) pairs, in input order (one pair -> a 0-d array).
        ``batch_size`` None: what suits the device and backend."""
        single = len(pairs) == 2 and all(isinstance(x, str) for x in pairs)
        items = [pairs] if single else list(pairs)
        scores = self.scorer.score([p[0] for p in items], [p[1] for p in items], batch_size)
        return scores[0] if single else scores

    def rank(self, query: str, documents: Sequence[str], top_k: int | None = None,
             return_documents: bool = False, batch_size: int | None = None) -> list[dict[str, Any]]:
        """``[{"corpus_id", "score"(, "text")}]`` sorted by score, best first; ``top_k`` keeps the best k."""
        scores = self.predict([(query, d) for d in documents], batch_size=batch_size) if documents else np.empty(0)
        results: list[dict[str, Any]] = [{"corpus_id": i, "score": float(s)} for i, s in enumerate(scores)]
        if return_documents:
            for i, r in enumerate(results):
                r["text"] = documents[i]
        results.sort(key=lambda r: r["score"], reverse=True)
        return results[:top_k] if top_k is not None else results
