"""Training data from a Hugging Face dataset (``data.kind=hf``), read with ``datasets`` in the shapes reranker training
data comes in on the hub:

- ``tevatron``: rows ``query_id, query, positive_passages, negative_passages`` (lists of ``{docid, text, title}``),
  as Tevatron's and Promptriever's MS MARCO sets (``samaya-ai/msmarco-w-instructions``);
- ``pairs``: sentence-transformers' ``(query, passage, label)`` columns (integer labels: the judgment);
- ``tuples``: sentence-transformers' ``(query, positive, negative_1, ..., negative_n)`` columns (or a single
  ``negative``).

Each row becomes judgments (its positives) and an unscored candidate list (its positives and negatives, in the
row's order), so that the pair builder treats it like any source: ``data.pairs`` with ``negatives_per_query: null``
keeps every negative of a row. ``hf.rows`` keeps the split's first rows (before ``hf.filter``); with a hub id the
split is then streamed, so only the files that hold those rows are downloaded. ``hf.path`` is a hub id or a local
folder holding the dataset's parquet files (read with the ``parquet`` builder, which notices changed files)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank.data.inmemory import InMemoryRun, hub_errors_as_one_line, local_folder
from crossrank.data.trec import Qrels, RunRow
from crossrank.errors import ConfigError, DataError
from crossrank.files import file_stamp

log = logging.getLogger(__name__)

FORMATS = ("auto", "tevatron", "pairs", "tuples")
KEYS = {"path", "split", "rows", "filter", "format", "revision"}


@dataclass
class HFSource(InMemoryRun):
    """A Hugging Face dataset's training rows as a source (see the module)."""

    path: str
    split: str = "train"
    rows: int | None = None
    filter: dict[str, Any] | None = None
    format: str = "auto"
    revision: str | None = None
    name: str = ""
    _read: _Rows | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"data.hf.format: {self.format!r} (expected {', '.join(FORMATS)})")
        if self.rows is not None and (isinstance(self.rows, bool) or int(self.rows) < 1):
            raise ConfigError(f"data.hf.rows: {self.rows!r} must be a positive number of rows or null (all)")
        self.name = self.name or Path(self.path).name
        self.filter = {str(k): v for k, v in dict(self.filter).items()} if self.filter else None  # plain values

    @property
    def local(self) -> Path | None:
        """The local folder, when ``path`` is one."""
        return local_folder(self.path)

    def describe(self) -> str:
        """Where the pairs come from, for the model card."""
        where = f"the local copy `{self.path}`" if self.local else f"the Hugging Face dataset `{self.path}`"
        rows = f"its first {self.rows:,} rows" if self.rows else "every row"
        kept = "" if not self.filter else ", the rows where " + " and ".join(
            f"{k} == {json.dumps(v)}" for k, v in self.filter.items())
        read = self.read()
        return (f"{where} (split `{self.split}`, {rows}{kept}: {read.kept:,} rows, "
                f"{read.shape} format; each row's positives and negatives)")

    # -- the Source protocol ------------------------------------------------------------------
    def queries(self) -> dict[str, str]:
        return self.read().queries

    def qrels(self) -> Qrels:
        return self.read().qrels

    def declared(self) -> dict[str, object]:
        return {}

    def cache_key(self) -> str:
        """The settings, and what is read: a local folder's files, or the hub commit served (a dataset updated on
        the hub is built again)."""
        local = self.local
        files = [file_stamp(f) for f in parquet_files(local)] if local else None
        commit = None if local else hub_commit(self.path, self.revision)
        return json.dumps({"hf": self.path, "split": self.split, "rows": self.rows, "filter": self.filter,
                           "format": self.format, "revision": self.revision, "files": files, "commit": commit},
                          sort_keys=True)

    def collection_key(self) -> str:
        return self.cache_key()

    def has_run(self) -> bool:
        return True

    def iter_run(self) -> Iterator[RunRow]:
        for qid, pids in self.read().candidates.items():
            for pid in pids:
                yield qid, pid, 0.0  # a row's passages carry no first-stage score

    def passages(self, pids: Iterable[str]) -> dict[str, str]:
        texts = self.read().texts
        return {p: texts[p] for p in pids if p in texts}

    def passage_ids(self) -> set[str] | None:
        return set(self.read().texts)

    def iter_passages(self) -> Iterator[tuple[str, str]]:
        return iter(self.read().texts.items())

    # -- reading ------------------------------------------------------------------------------
    def read(self) -> _Rows:
        """Every kept row, read once: the split's first ``rows`` rows, those that pass ``filter``."""
        if self._read is None:
            read = _Rows(self.format)
            wanted = dict(self.filter or {})
            at = None if self.local else hub_commit(self.path, self.revision)  # the commit the cache key names
            for row in streamed(self.path, self.split, self.rows, at or self.revision, self.local):
                if self.rows is not None and read.seen >= self.rows:
                    break
                read.seen += 1
                missing = [k for k in wanted if k not in row]
                if missing:
                    raise ConfigError(f"data.hf.filter.{missing[0]}: {self.path} has no column {missing[0]!r} "
                                      f"(columns: {', '.join(row)})")
                if all(row[k] == v for k, v in wanted.items()):
                    try:
                        read.add(row)
                    except KeyError as e:
                        raise DataError(f"data.hf.format: {read.shape} rows need the column {e.args[0]!r} "
                                        f"({self.path} has {', '.join(row)})") from None
            if not read.kept:
                raise DataError(f"data.hf: no row of {self.path} ({self.split}) is left after data.hf.filter")
            log.info("%s: %d rows kept of %d read (%s format), %d queries, %d passages", self.name, read.kept,
                     read.seen, read.shape, len(read.queries), len(read.texts))
            self._read = read
        return self._read


def parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet"))


def load_rows(path: str, split: str, rows: int | None, revision: str | None, local: Path | None) -> Iterable[dict]:
    """The rows of ``split``: a local folder's parquet files, or the hub dataset (streamed when only its first rows
    are wanted)."""
    import datasets

    if local is not None:
        files = parquet_files(local)
        if not files:
            raise DataError(f"data.hf.path: {local} holds no parquet file")
        chosen = [f for f in files if f.name.startswith(f"{split}-") or f.parent.name == split] or files
        return datasets.load_dataset("parquet", data_files={split: [str(f) for f in chosen]}, split=split,
                                     streaming=True)
    return datasets.load_dataset(path, split=split, revision=revision, streaming=rows is not None)


SHA = re.compile(r"[0-9a-f]{40}")


@functools.lru_cache(maxsize=16)
def hub_commit(path: str, revision: str | None) -> str | None:
    """The commit the hub serves for dataset ``path`` at ``revision`` (asked once a process, for 10 s at most);
    None when it cannot be asked (offline: ``datasets`` reads its own cache, or fails in one line as the rows are
    read; give ``data.hf.revision=<commit>`` to pin what an offline key stands for)."""
    if revision is not None and SHA.fullmatch(revision):
        return revision
    import datasets
    from huggingface_hub import HfApi

    if datasets.config.HF_HUB_OFFLINE:
        return None
    try:
        return HfApi().dataset_info(path, revision=revision, timeout=10).sha
    except Exception:  # noqa: BLE001  any failure to ask (network, auth, an unknown id) leaves the key without it
        return None


def offline_as_one_line(path: str) -> contextlib.AbstractContextManager[None]:
    """A failed download or unreadable file of ``data.hf.path`` as one line naming the local way."""
    hint = ("a local folder is read as the hub dataset's parquet files: check them" if local_folder(path) else
            "offline, put the dataset's parquet files in a folder and give data.hf.path=FOLDER")
    return hub_errors_as_one_line("data.hf.path", path, "", hint)


def streamed(path: str, split: str, rows: int | None, revision: str | None, local: Path | None
             ) -> Iterator[dict[str, Any]]:
    """The split's rows; a failed download or unreadable file, when it is opened or at any row (rows stream), as
    one line. Only the reading is guarded: an error in what is done with a row is that error."""
    with offline_as_one_line(path):
        rows_iter = iter(load_rows(path, split, rows, revision, local))
    while True:
        with offline_as_one_line(path):
            row = next(rows_iter, None)
        if row is None:
            return
        yield row


class _Rows:
    """What the kept rows hold: queries, judgments, each query's candidates and the passage texts."""

    def __init__(self, shape: str) -> None:
        self.shape = shape
        self.queries: dict[str, str] = {}
        self.qrels: Qrels = {}
        self.candidates: dict[str, dict[str, None]] = {}  # per query, its passages in row order
        self.texts: dict[str, str] = {}
        self.seen = self.kept = 0

    def add(self, row: dict[str, Any]) -> None:
        if self.shape == "auto":
            self.shape = infer_format(row)
        self.kept += 1
        if self.shape == "tevatron":
            qid = self._query(row.get("query_id"), row["query"])
            for p in row["positive_passages"] or []:
                self._passage(qid, p.get("docid"), passage_text(p), 1)
            for p in row["negative_passages"] or []:
                self._passage(qid, p.get("docid"), passage_text(p), 0)
        elif self.shape == "pairs":
            label = row["label"]
            try:
                value = float(label)
            except (TypeError, ValueError):
                value = -1.0
            if isinstance(label, bool) or not value.is_integer() or value < 0:
                raise DataError(f"data.hf: row {self.seen}: label {label!r} is not a judgment (an integer >= 0); "
                                "soft labels need a teacher_run instead")
            self._passage(self._query(None, row["query"]), None, row["passage"], int(value))
        else:
            qid = self._query(None, row["query"])
            self._passage(qid, None, row["positive"], 1)
            for column in sorted((c for c in row if c.startswith("negative")), key=_column_order):
                if row[column] is not None:
                    self._passage(qid, None, row[column], 0)

    def _query(self, given: object, text: str) -> str:
        qid = str(given) if given not in (None, "") else "q:" + _digest(text)
        if self.queries.get(qid, text) != text:
            qid = f"{qid}#{_digest(text)}"  # the same id with another text (e.g. an instruction): its own query
        self.queries[qid] = text
        return qid

    def _passage(self, qid: str, given: object, text: str, label: int) -> None:
        pid = str(given) if given not in (None, "") else "p:" + _digest(text)
        if self.texts.get(pid, text) != text:
            pid = f"{pid}#{_digest(text)}"  # the same id with another text: its own passage
        self.texts[pid] = text
        self.candidates.setdefault(qid, {})[pid] = None
        if label > 0:
            judged = self.qrels.setdefault(qid, {})
            judged[pid] = max(label, judged.get(pid, 0))


def infer_format(row: dict[str, Any]) -> str:
    """The shape of a row from its columns; a row of none of the shapes is one line naming its columns."""
    if {"query", "positive_passages", "negative_passages"} <= row.keys():
        return "tevatron"
    if {"query", "passage", "label"} <= row.keys():
        return "pairs"
    if {"query", "positive"} <= row.keys() and any(c.startswith("negative") for c in row):
        return "tuples"
    raise DataError(f"data.hf: rows with columns {', '.join(row)} are none of the known shapes (tevatron: query, "
                    "positive_passages, negative_passages; pairs: query, passage, label; tuples: query, positive, "
                    "negative_1..n)")


def passage_text(passage: dict[str, Any]) -> str:
    """A Tevatron passage's text, after its title when it has one (as BEIR's passages are read); Tevatron's MS MARCO
    rows give every passage the title ``-``, which is no title."""
    title, text = (passage.get("title") or "").strip(), passage.get("text") or ""
    return f"{title} {text}".strip() if title and title != "-" else text


def _column_order(name: str) -> tuple[int, str]:
    tail = name.removeprefix("negative").lstrip("_")
    return (int(tail), name) if tail.isdigit() else (0, name)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]
