"""BM25 over a whole collection with bm25s (Anserini's k1=0.9, b=0.4 by default): the first stage of sets without a
run, the order of runs without scores, and retrieval from a whole collection (``first_stage: bm25``).

The index is bm25s's own (its saved format, loaded memory-mapped, searched by bm25s), but built here a chunk of
passages at a time: bm25s's builder holds every token of the corpus in Python lists (tens of GB for MS MARCO's
8.8M passages). Tokens come from bm25s's own tokenizer and the scores follow its "lucene" formulas to the bit, so
the index equals the one ``bm25s.BM25(k1, b).index(bm25s.tokenize(texts, stopwords="en"))`` makes (tested)."""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from crossrank.data.trec import RunRow

log = logging.getLogger(__name__)

STOPWORDS = "en"  # bm25s' English stopword list, for passages and queries
INDEX_FORMAT = 1  # part of every index's cache key: raised when what an index folder holds changes
CHUNK = 100_000  # passages tokenized at a time


@dataclass(frozen=True)
class BM25Settings:
    """BM25's parameters, one home for their defaults: Anserini's (its MS MARCO-tuned pair is k1=0.82, b=0.68)."""

    k1: float = 0.9
    b: float = 0.4

    def describe(self) -> str:
        return f"BM25 (bm25s, k1 {self.k1}, b {self.b})"


def library_settings() -> dict[str, object]:
    """What else decides a ranking besides k1 and b: bm25s' version, the stopwords, the index format (cache keys)."""
    from importlib.metadata import version

    return {"bm25s": version("bm25s"), "stopwords": STOPWORDS, "format": INDEX_FORMAT}


class BM25Index:
    """A bm25s index over ``(pid, text)`` pairs kept in a folder (``build`` writes it; the constructor loads it
    memory-mapped): ``search`` retrieves the top k of the collection, ``score`` scores given passages."""

    def __init__(self, folder: Path, keep: object = None) -> None:
        import bm25s

        self.folder = Path(folder)
        self._keep = keep  # a temporary folder that must outlive the index
        self.retriever = bm25s.BM25.load(str(self.folder), mmap=True)
        self.pids = np.load(self.folder / "pids.npy", mmap_mode="r")
        self._order = np.load(self.folder / "pid_order.npy", mmap_mode="r")
        self.settings = BM25Settings(**json.loads((self.folder / "settings.json").read_text()))

    @classmethod
    def build(cls, passages: Iterable[tuple[str, str]], folder: Path | None = None,
              settings: BM25Settings = BM25Settings(), chunk: int = CHUNK) -> BM25Index:
        """Index ``passages`` into ``folder`` (None: a temporary folder that lives as long as the index)."""
        keep = None
        if folder is None:
            keep = tempfile.TemporaryDirectory(prefix="crossrank-bm25-")
            folder = Path(keep.name)
        write_index(passages, Path(folder), settings, chunk)
        return cls(Path(folder), keep)

    def __len__(self) -> int:
        return len(self.pids)

    def search(self, queries: Mapping[str, str], k: int) -> list[RunRow]:
        """Top-``k`` passages for each query, best first (queries with no matching term get none)."""
        qids = list(queries)
        rows: list[RunRow] = []
        for qid, ids in zip(qids, self._query_ids([queries[q] for q in qids])):
            if not ids or k < 1:
                continue
            scores = self.retriever.get_scores_from_ids(ids)
            for i in self._top(scores, k):
                rows.append((qid, self.pids[i].decode(), float(scores[i])))
        return rows

    def _top(self, scores: np.ndarray, k: int) -> np.ndarray:
        """The rows of the ``k`` best positive scores in trec_eval's order (score, then pid, descending): passages
        tied at the cut are taken by that order too, so a depth cut keeps what a longer list would list first."""
        k = min(k, int((scores > 0).sum()))
        if k < 1:
            return np.zeros(0, dtype=np.int64)
        cut = scores[np.argpartition(-scores, k - 1)[k - 1]]
        above, tied = np.flatnonzero(scores > cut), np.flatnonzero(scores == cut)
        tied = tied[np.argsort(self.pids[tied], kind="stable")[::-1]][: k - len(above)]
        top = np.concatenate([above, tied])
        return top[np.lexsort((self.pids[top], scores[top]))[::-1]]

    def score(self, query: str, pids: Sequence[str]) -> np.ndarray:
        """BM25 scores of ``pids`` for ``query`` (0 for a passage without a matching term or not in the index)."""
        encoded = [p.encode() for p in pids]
        too_long = np.array([len(e) > self.pids.dtype.itemsize for e in encoded], dtype=bool)
        wanted = np.array(encoded, dtype=self.pids.dtype) if len(pids) else np.array([], "S1")  # cut at the width
        rows = np.where(too_long, -1, self.rows(wanted))  # an id longer than any indexed one is not indexed
        out = np.zeros(len(pids), dtype=np.float64)
        ids = self._query_ids([query])[0]
        if ids and len(pids):
            scores = self.retriever.get_scores_from_ids(ids)
            found = rows >= 0
            out[found] = scores[rows[found]]
        return out

    def rows(self, encoded: np.ndarray) -> np.ndarray:
        """The index rows of (utf-8 encoded) pids, -1 where a pid is not in the index."""
        if not len(encoded):
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self.pids, encoded, sorter=self._order)
        pos = np.minimum(pos, len(self._order) - 1)
        rows = np.asarray(self._order[pos], dtype=np.int64)
        return np.where(self.pids[rows] == encoded, rows, -1)

    def _query_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each query in the index's vocabulary (bm25s' tokenizer; unknown words dropped)."""
        import bm25s

        vocab = self.retriever.vocab_dict
        tokens = bm25s.tokenize(texts, stopwords=STOPWORDS, return_ids=False, show_progress=False)
        return [[vocab[t] for t in words if t in vocab] for words in tokens]


def write_index(passages: Iterable[tuple[str, str]], folder: Path, settings: BM25Settings, chunk: int) -> None:
    """Count postings a chunk at a time, then write bm25s' saved format (and the pids, sorted for lookups)."""
    import bm25s

    vocab: dict[str, int] = {}
    pids: list[np.ndarray] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (doc, term, tf) of each chunk
    lengths: list[np.ndarray] = []
    n_docs = 0
    for ids, texts in _chunks(passages, chunk):
        tokenized = bm25s.tokenize(texts, stopwords=STOPWORDS, show_progress=False)
        local = {i: t for t, i in tokenized.vocab.items()}
        remap = np.array([vocab.setdefault(local[i], len(vocab)) for i in range(len(local))], dtype=np.int64)
        sizes = np.fromiter((len(d) for d in tokenized.ids), dtype=np.int64, count=len(texts))
        flat = np.fromiter((t for d in tokenized.ids for t in d), dtype=np.int64, count=int(sizes.sum()))
        docs = np.repeat(np.arange(n_docs, n_docs + len(texts), dtype=np.int64), sizes)
        keys, tf = np.unique(docs << 32 | remap[flat] if len(flat) else flat, return_counts=True)
        parts.append(((keys >> 32).astype(np.int32), (keys & 0xFFFFFFFF).astype(np.int32), tf.astype(np.float32)))
        lengths.append(sizes)
        pids.append(np.array([p.encode() for p in ids]))
        n_docs += len(texts)
    if not n_docs:
        from crossrank.errors import DataError

        raise DataError("BM25: the collection has no passage to index")
    folder.mkdir(parents=True, exist_ok=True)
    doc_len = np.concatenate(lengths)
    df = np.zeros(len(vocab) + 1, dtype=np.int64)  # + bm25s' empty token, which no passage holds
    for _, term, _ in parts:
        df += np.bincount(term, minlength=len(df))
    _write_postings(parts, df, doc_len, folder, settings)
    all_pids = np.concatenate(pids).astype(f"S{max(1, max(p.dtype.itemsize for p in pids))}")
    np.save(folder / "pids.npy", all_pids)
    np.save(folder / "pid_order.npy", np.argsort(all_pids, kind="stable").astype(np.int64))
    vocab[""] = len(vocab)
    (folder / "vocab.index.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    params = {"k1": settings.k1, "b": settings.b, "delta": 0.5, "method": "lucene", "idf_method": "lucene",
              "dtype": "float32", "int_dtype": "int32", "num_docs": n_docs, "version": bm25s.__version__,
              "backend": "numpy"}
    (folder / "params.index.json").write_text(json.dumps(params, indent=4))
    (folder / "settings.json").write_text(json.dumps(asdict(settings)))


def _write_postings(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], df: np.ndarray, doc_len: np.ndarray,
                    folder: Path, settings: BM25Settings) -> None:
    """The term-major (CSC) score matrix in bm25s' files, filled chunk by chunk into memory-mapped arrays; scores
    as bm25s computes them: idf in float32, the term-frequency part in float64, their product stored in float32."""
    n_docs = len(doc_len)
    k1, b = settings.k1, settings.b
    avg = doc_len.mean()  # float64, as bm25s' mean of the lengths
    values, where = np.unique(df, return_inverse=True)  # math.log, as bm25s (numpy's log may differ in the last bit)
    idf = np.array([math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in values.tolist()], np.float32)[where]
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    nnz = int(indptr[-1])
    data = np.lib.format.open_memmap(folder / "data.csc.index.npy", mode="w+", dtype=np.float32, shape=(nnz,))
    indices = np.lib.format.open_memmap(folder / "indices.csc.index.npy", mode="w+", dtype=np.int32, shape=(nnz,))
    filled = indptr[:-1].copy()
    for docs, term, tf in parts:  # chunks in document order: each term's postings end up sorted by document
        order = np.argsort(term, kind="stable")
        term_s, docs_s, tf_s = term[order], docs[order], tf[order]
        starts = np.flatnonzero(np.r_[True, term_s[1:] != term_s[:-1]]) if len(term_s) else term_s
        rank = np.arange(len(term_s)) - np.repeat(starts, np.diff(np.r_[starts, len(term_s)]))
        pos = filled[term_s] + rank
        length = doc_len[docs_s].astype(np.float64)
        tfc = tf_s.astype(np.float64) / (k1 * ((1 - b) + b * length / avg) + tf_s)
        data[pos] = (idf[term_s].astype(np.float64) * tfc).astype(np.float32)
        indices[pos] = docs_s
        filled += np.bincount(term_s, minlength=len(filled))
    data.flush()
    indices.flush()
    del data, indices
    np.save(folder / "indptr.csc.index.npy", indptr)


def _chunks(passages: Iterable[tuple[str, str]], size: int) -> Iterable[tuple[list[str], list[str]]]:
    ids: list[str] = []
    texts: list[str] = []
    for pid, text in passages:
        ids.append(pid)
        texts.append(text)
        if len(ids) == size:
            yield ids, texts
            ids, texts = [], []
    if ids:
        yield ids, texts
