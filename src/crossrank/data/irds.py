"""An ir_datasets dataset as a source: queries, qrels and the first-stage run (scoreddocs) from the dataset, passages
from its docs store (random access, never loaded whole). A failed download is one line: what, from where, and
the offline alternative."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crossrank.data import kd
from crossrank.data.trec import Qrels, RunRow, read_run
from crossrank.errors import DataError
from crossrank.files import file_stamp

log = logging.getLogger(__name__)


@dataclass
class IRDatasetsSource:
    """An ir_datasets dataset (e.g. ``msmarco-passage/train/judged``, ``beir/scifact/test``).

    Passages come from the dataset's docs store (random access, never loaded whole); the first
    stage is the dataset's ``scoreddocs`` unless ``run_path`` names a TREC run file. Documents with
    a title (BEIR) are read as ``title + " " + text``.
    """

    dataset_id: str
    run_path: str | None = None
    name: str = ""
    _queries: dict[str, str] | None = field(default=None, repr=False)
    _qrels: Qrels | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import ir_datasets

        _quiet_ir_datasets()
        if self.dataset_id.endswith("/" + kd.SUFFIX):
            with fetching(self.dataset_id, "base dataset"):
                try:
                    kd.register(self.dataset_id)
                except KeyError:
                    raise DataError(f"ir_datasets: unknown dataset id {self.dataset_id!r} (its base is "
                                    "unknown)") from None
        try:
            self.dataset = ir_datasets.load(self.dataset_id)
        except KeyError:
            raise DataError(f"ir_datasets: unknown dataset id {self.dataset_id!r}") from None
        self.name = self.name or self.dataset_id.replace("/", "_")

    def declared(self) -> dict[str, object]:
        return {}

    def cache_key(self) -> str:
        stamp = file_stamp(Path(self.run_path) if self.run_path else None)
        conversion = kd.CONVERSION if self.dataset_id.endswith("/" + kd.SUFFIX) else None  # its run is converted
        return json.dumps({"ir_datasets": self.dataset_id, "run": stamp, "files": downloaded_files(self.dataset_id),
                           "conversion": conversion})

    def queries(self) -> dict[str, str]:
        if self._queries is None:
            with fetching(self.dataset_id, "queries"):
                self._queries = {q.query_id: _query_text(q) for q in self.dataset.queries_iter()}
        return self._queries

    def qrels(self) -> Qrels:
        if self._qrels is None:
            qrels: Qrels = {}
            with fetching(self.dataset_id, "qrels"):
                for r in self.dataset.qrels_iter():
                    qrels.setdefault(r.query_id, {})[r.doc_id] = int(r.relevance)
            self._qrels = qrels
        return self._qrels

    def has_run(self) -> bool:
        return self.run_path is not None or self.dataset.has_scoreddocs()

    def iter_run(self) -> Iterator[RunRow]:
        if self.run_path is not None:
            return read_run(Path(self.run_path), self.queries())
        if not self.dataset.has_scoreddocs():
            raise DataError(f"ir_datasets: {self.dataset_id} has no scoreddocs; give a run file")
        return self._scoreddocs()

    @property
    def negate_score(self) -> bool:
        handler = self.dataset.scoreddocs_handler() if self.run_path is None else None
        while handler is not None and hasattr(handler, "_scoreddocs_handler"):  # FilteredScoredDocs: its parent's
            handler = handler._scoreddocs_handler
        return bool(getattr(handler, "_negate_score", False))

    def run_file_path(self) -> Path | None:
        """The local scoreddocs file ir_datasets reads (downloading it first), for the fast reader. A filtered
        subset's (``msmarco-passage/train/judged``) is its parent's file: the reader keeps only the queries asked
        for, which are the subset's."""
        if self.run_path is not None:
            return Path(self.run_path)
        handler = self.dataset.scoreddocs_handler() if self.dataset.has_scoreddocs() else None
        while handler is not None and hasattr(handler, "_scoreddocs_handler"):  # FilteredScoredDocs
            handler = handler._scoreddocs_handler
        path_of = getattr(handler, "scoreddocs_path", None)
        if path_of is None:
            return None
        with fetching(self.dataset_id, "scoreddocs"):
            try:
                return Path(path_of())
            except NotImplementedError:
                return None

    def collection_key(self) -> str:
        """The dataset that holds the passages (every ``msmarco-passage/*`` subset: ``msmarco-passage``) and the file
        they are read from (where the docs handler names one; else the files of that dataset's folder)."""
        import ir_datasets

        parent = ir_datasets.docs_parent_id(self.dataset_id) or self.dataset_id
        path_of = getattr(self.dataset.docs_handler(), "docs_path", None)
        docs = Path(path_of(force=False)) if path_of is not None else None
        files = file_stamp(docs) if docs is not None else downloaded_files(parent, below=False)
        return json.dumps({"ir_datasets docs": parent, "files": files})

    def known_ids(self, candidates: Mapping[str, list[tuple[str, float]]]) -> bool:
        queries = self.queries()
        return all(q in queries for q in candidates)  # pids are checked when their texts are fetched

    def passage_ids(self) -> set[str] | None:
        return None  # the docs store answers for any id; listing them all would read the whole corpus

    def _scoreddocs(self) -> Iterator[RunRow]:
        with fetching(self.dataset_id, "scoreddocs"):
            for s in self.dataset.scoreddocs_iter():
                yield s.query_id, s.doc_id, float(s.score)

    def passages(self, pids: Iterable[str]) -> dict[str, str]:
        with fetching(self.dataset_id, "docs"):
            docs = self.dataset.docs_store().get_many(list(pids))
        return {pid: _doc_text(doc) for pid, doc in docs.items()}

    def iter_passages(self) -> Iterator[tuple[str, str]]:
        with fetching(self.dataset_id, "docs"):
            for d in self.dataset.docs_iter():
                yield d.doc_id, _doc_text(d)


class _DropDownloadRetries(logging.Filter):
    """ir_datasets logs every failed download try; crossrank reports the failure once, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("download error", "Download failed", "[error]"))


def _quiet_ir_datasets() -> None:
    """Give ir_datasets' own loggers (created lazily, not propagating) the retry filter."""
    import ir_datasets.log

    original = ir_datasets.log.Logger.logger
    if getattr(original, "crossrank_quiet", False):
        return

    def logger(self: ir_datasets.log.Logger) -> logging.Logger:
        result = original(self)
        if not any(isinstance(f, _DropDownloadRetries) for f in result.filters):
            result.addFilter(_DropDownloadRetries())
        return result

    logger.crossrank_quiet = True  # type: ignore[attr-defined]
    ir_datasets.log.Logger.logger = logger


def _reason(error: BaseException) -> str:
    """The innermost cause of a network error, e.g. ``Connection refused`` or ``Name or service not known``."""
    import re

    text = str(error)
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[-1].strip()
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first if len(first) <= 200 else first[:200] + "..."


@contextlib.contextmanager
def fetching(dataset_id: str, what: str) -> Iterator[None]:
    """Turn a failed ir_datasets download into one line: what, from where, and the offline way."""
    import socket
    import urllib.error

    import requests
    from ir_datasets.util import HashVerificationError

    try:
        yield
    except HashVerificationError as e:
        raise DataError(f"ir_datasets: the {what} of {dataset_id} downloaded with the wrong checksum ({e}); delete "
                        f"the file and download again, or offline, {offline_hint(dataset_id)}") from None
    except (requests.RequestException, urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror) as e:
        url = getattr(getattr(e, "request", None), "url", None) or ""
        where = f" from {url}" if url else ""
        raise DataError(f"ir_datasets: cannot download the {what} of {dataset_id}{where} ({_reason(e)}); offline, "
                        f"{offline_hint(dataset_id)}") from None


def offline_hint(dataset_id: str) -> str:
    """How to go on without a download: the teacher-scored triples or a NanoBEIR set's three files by hand, else a
    local irdata folder."""
    if dataset_id.endswith("/" + kd.SUFFIX):
        return kd.offline_hint(dataset_id)
    if dataset_id.startswith("nano-beir/"):
        home = Path(os.environ.get("IR_DATASETS_HOME") or Path.home() / ".ir_datasets")
        return (f"put corpus.parquet, queries.parquet and qrels.parquet of the Hugging Face dataset "
                f"zeta-alpha-ai/Nano<Set> in {home / dataset_id}/, or use eval=local eval.path=DIR")
    return "use a local copy in the irdata format: data=local data.path=DIR or eval=local eval.path=DIR"


def _query_text(query: object) -> str:
    return getattr(query, "text", None) or getattr(query, "default_text", lambda: "")()


def _doc_text(doc: object) -> str:
    title = getattr(doc, "title", "") or ""
    text = getattr(doc, "text", None)
    if text is None:
        text = doc.default_text()  # type: ignore[attr-defined]
    return f"{title} {text}".strip() if title else text


def downloaded_files(dataset_id: str, below: bool = True) -> list[list[object]]:
    """Name, size and modification time of the files ir_datasets keeps for ``dataset_id``: those in its own folder
    under ``$IR_DATASETS_HOME`` (``below``: and in the folders under it) and in each parent's folder (not their
    subfolders, which hold other subsets), but not the lookup stores it builds (``*.pklz4``): part of cache keys, so
    that files downloaded again or put there by hand are not taken for the old ones."""
    from ir_datasets.util import home_path

    home = Path(home_path())
    folder = home / dataset_id
    found: list[list[object]] = []
    while folder != home and home in folder.parents:
        if folder.is_dir():
            files = folder.rglob("*") if below and folder == home / dataset_id else folder.iterdir()
            found += [[str(f.relative_to(home)), f.stat().st_size, f.stat().st_mtime_ns] for f in files
                      if f.is_file() and not any(part.endswith(".pklz4") for part in f.parts)]
        folder = folder.parent
    return sorted(found)
