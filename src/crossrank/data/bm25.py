"""First stage for corpora without a run: BM25 with bm25s (Anserini's k1=0.9, b=0.4 by default)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from crossrank.data.trec import RunRow

STOPWORDS = "en"  # bm25s' English stopword list, for passages and queries


class BM25Index:
    """A bm25s index over ``(pid, text)`` pairs; ``search`` returns TREC-style run rows."""

    @staticmethod
    def settings() -> dict[str, str]:
        """What else decides a ranking besides k1 and b: bm25s' version and the stopwords (for cache keys)."""
        from importlib.metadata import version

        return {"bm25s": version("bm25s"), "stopwords": STOPWORDS}

    def __init__(self, passages: Iterable[tuple[str, str]], k1: float = 0.9, b: float = 0.4) -> None:
        import bm25s

        self._bm25s = bm25s
        self.pids: list[str] = []
        texts: list[str] = []
        for pid, text in passages:
            self.pids.append(pid)
            texts.append(text)
        if not texts:
            raise ValueError("BM25Index: no passages to index")
        self.retriever = bm25s.BM25(k1=k1, b=b)
        self.retriever.index(bm25s.tokenize(texts, stopwords=STOPWORDS, show_progress=False), show_progress=False)

    def search(self, queries: Mapping[str, str], k: int) -> list[RunRow]:
        """Top-``k`` passages for each query, best first (queries with no matching term get none)."""
        qids = list(queries)
        if not qids:
            return []
        k = min(k, len(self.pids))
        tokens = self._bm25s.tokenize([queries[q] for q in qids], stopwords=STOPWORDS, show_progress=False)
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        rows: list[RunRow] = []
        for qi, qid in enumerate(qids):
            for idx, score in zip(np.asarray(docs[qi]), np.asarray(scores[qi])):
                if score > 0:
                    rows.append((qid, self.pids[int(idx)], float(score)))
        return rows
