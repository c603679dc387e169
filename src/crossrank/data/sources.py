"""Readers: a local TSV directory or an ir_datasets id -> queries, passages, qrels, first-stage run.

Both kinds of source answer the same questions, so pair building and evaluation never care
where the data came from. Local files are validated line by line; every problem is reported
as ``file:line: what is wrong``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from crossrank.errors import DataError

log = logging.getLogger(__name__)

Qrels = dict[str, dict[str, int]]
_ANNOUNCED: set[Path] = set()  # folders whose judged-but-textless pairs were already reported
RunRow = tuple[str, str, float]  # (qid, pid, score)


class Source(Protocol):
    """Everything pair building, evaluation and teachers may ask of a data source; nothing else is asked.

    Passage texts come through :meth:`passages` (the ids asked for) or :meth:`iter_passages` (all of them, for a
    BM25 index); no caller reads a whole collection to look up a few passages."""

    name: str

    def queries(self) -> dict[str, str]:
        """``{qid: text}`` of every query."""
        ...

    def qrels(self) -> Qrels:
        """``{qid: {pid: relevance}}``."""
        ...

    def declared(self) -> dict[str, object]:
        """What the set declares of itself (e.g. ``relevance_level``); {} when nothing."""
        ...

    def has_run(self) -> bool:
        """Whether the source has a first-stage run (else BM25 over :meth:`iter_passages` is the first stage)."""
        ...

    def iter_run(self) -> Iterator[RunRow]:
        """The first-stage run, streamed in file order (grouped by query)."""
        ...

    def run_file_path(self) -> Path | None:
        """The run's file on disk, for the fast Arrow reader (None: stream :meth:`iter_run`)."""
        ...

    @property
    def negate_score(self) -> bool:
        """Whether the run file's scores are negated ranks (higher is worse) to flip when read."""
        ...

    def known_ids(self, candidates: Mapping[str, list[tuple[str, float]]]) -> bool:
        """True when every qid of ``candidates`` is a query and every pid can have a text."""
        ...

    def passages(self, pids: Iterable[str]) -> dict[str, str]:
        """``{pid: text}`` of the ``pids`` that have a text."""
        ...

    def passage_ids(self) -> set[str] | None:
        """The ids of every passage with a text, where the source can list them cheaply; None when it cannot
        (then any id may have one: ask :meth:`passages`)."""
        ...

    def iter_passages(self) -> Iterator[tuple[str, str]]:
        """Every ``(pid, text)`` of the collection."""
        ...


#: Keys a local folder may declare in its ``dataset.yaml``.
DECLARABLE = {"relevance_level": "binary metrics and training positives count relevance >= this (TREC DL: 2)"}


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without newline), failing clearly on non-UTF-8 or empty files."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    n = 0
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{n}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
            line = line.rstrip("\r\n")
            if line.strip():
                yield n, line
    if n == 0:
        raise DataError(f"{path}: file is empty")


def read_id_text_tsv(path: Path) -> dict[str, str]:
    """Read ``id<TAB>text`` lines (queries.tsv, collection.tsv)."""
    out: dict[str, str] = {}
    for n, line in _read_lines(path):
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataError(f"{path}:{n}: expected 2 tab-separated columns (id, text), found {len(parts)}")
        key, text = parts[0].strip(), parts[1].strip()
        if not key:
            raise DataError(f"{path}:{n}: empty id")
        if key in out:
            raise DataError(f"{path}:{n}: duplicate id {key!r}")
        out[key] = text
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def read_qrels(path: Path, known_qids: Mapping[str, str] | None = None) -> Qrels:
    """Read TREC qrels (``qid 0 pid relevance``, tab or space separated)."""
    qrels: Qrels = {}
    for n, line in _read_lines(path):
        parts = line.split()
        if len(parts) != 4:
            raise DataError(f"{path}:{n}: expected 4 columns (qid, 0, pid, relevance), found {len(parts)}")
        qid, _, pid, rel = parts
        try:
            relevance = int(rel)
        except ValueError:
            raise DataError(f"{path}:{n}: relevance {rel!r} is not an integer") from None
        if known_qids is not None and qid not in known_qids:
            raise DataError(f"{path}:{n}: qid {qid!r} is not in queries.tsv")
        qrels.setdefault(qid, {})[pid] = relevance
    if not qrels:
        raise DataError(f"{path}: no rows")
    return qrels


def read_trec_run(
    path: Path,
    known_qids: Mapping[str, str] | None = None,
    known_pids: Mapping[str, str] | None = None,
) -> Iterator[RunRow]:
    """Stream a TREC run (``qid Q0 pid rank score tag``), checking ids against queries and passages."""
    rows = 0
    current: str | None = None
    seen: set[str] = set()
    for n, line in _read_lines(path):
        parts = line.split()
        if len(parts) != 6:
            raise DataError(f"{path}:{n}: expected 6 columns (qid Q0 pid rank score tag), found {len(parts)}")
        qid, _, pid, _, score, _ = parts
        if qid != current:
            current, seen = qid, set()
        if pid in seen:
            raise DataError(f"{path}:{n}: pid {pid!r} is listed twice for qid {qid!r}")
        seen.add(pid)
        try:
            value = float(score)
        except ValueError:
            raise DataError(f"{path}:{n}: score {score!r} is not a number") from None
        if known_qids is not None and qid not in known_qids:
            raise DataError(f"{path}:{n}: qid {qid!r} is not in the queries")
        if known_pids is not None and pid not in known_pids:
            raise DataError(f"{path}:{n}: pid {pid!r} is not in the collection")
        rows += 1
        yield qid, pid, value
    if rows == 0:
        raise DataError(f"{path}: the run is empty")


@dataclass
class LocalSource:
    """A directory in the ``../shared/irdata`` format.

    ``queries.tsv`` and ``collection.tsv`` (``id<TAB>text``), ``qrels.tsv`` (TREC qrels) and an
    optional ``run.tsv`` (TREC run). Qrels may judge passages that ``collection.tsv`` lacks (TREC DL
    ships a subset of the collection): those pairs still count in metrics and are skipped for training.
    A qrels qid that is not a query, or a run id with no text, is an error.
    """

    path: str
    run_file: str | None = "run.tsv"
    name: str = ""
    _queries: dict[str, str] | None = field(default=None, repr=False)
    _collection: dict[str, str] | None = field(default=None, repr=False)
    _qrels: Qrels | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: data directory not found")
        self.root = root
        self.name = self.name or root.name

    def queries(self) -> dict[str, str]:
        if self._queries is None:
            self._queries = read_id_text_tsv(self.root / "queries.tsv")
        return self._queries

    def declared(self) -> dict[str, object]:
        """What ``dataset.yaml`` beside the TSVs says of the set (e.g. ``relevance_level: 2``); {} without one."""
        return read_declaration(self.root / "dataset.yaml")

    def collection(self) -> dict[str, str]:
        if self._collection is None:
            self._collection = read_id_text_tsv(self.root / "collection.tsv")
            self._note_missing_texts()
        return self._collection

    def qrels(self) -> Qrels:
        if self._qrels is None:
            self._qrels = read_qrels(self.root / "qrels.tsv", self.queries())
            self._note_missing_texts()
        return self._qrels

    def _note_missing_texts(self) -> None:
        """Once both the judgments and the collection are read: how many judged pids have no text."""
        if self._qrels is None or self._collection is None or self.root in _ANNOUNCED:
            return
        missing = sum(pid not in self._collection for j in self._qrels.values() for pid in j)
        if missing:
            _ANNOUNCED.add(self.root)
            log.info("%s: %d judged pairs have no passage text (kept for metrics)", self.name, missing)

    def run_path(self) -> Path | None:
        if self.run_file is None:
            return None
        p = Path(self.run_file)
        p = p if p.is_absolute() else self.root / p
        return p if p.exists() else None

    def has_run(self) -> bool:
        return self.run_path() is not None

    def run_file_path(self) -> Path | None:
        """The run file, for the fast reader (:mod:`crossrank.data.runfile`)."""
        return self.run_path()

    @property
    def negate_score(self) -> bool:
        return False

    def passage_ids(self) -> set[str] | None:
        return set(self.collection())

    def known_ids(self, candidates: Mapping[str, list[tuple[str, float]]]) -> bool:
        """True when every qid and pid of ``candidates`` is a query and a passage with text."""
        queries, collection = self.queries(), self.collection()
        return all(q in queries and all(p in collection for p, _ in items) for q, items in candidates.items())

    def iter_run(self) -> Iterator[RunRow]:
        path = self.run_path()
        if path is None:
            raise DataError(f"{self.root}: no {self.run_file}")
        return read_trec_run(path, self.queries(), self.collection())

    def passages(self, pids: Iterable[str]) -> dict[str, str]:
        collection = self.collection()
        return {pid: collection[pid] for pid in pids if pid in collection}

    def iter_passages(self) -> Iterator[tuple[str, str]]:
        return iter(self.collection().items())


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
        try:
            self.dataset = ir_datasets.load(self.dataset_id)
        except KeyError:
            raise DataError(f"ir_datasets: unknown dataset id {self.dataset_id!r}") from None
        self.name = self.name or self.dataset_id.replace("/", "_")

    def declared(self) -> dict[str, object]:
        return {}

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
            return read_trec_run(Path(self.run_path), self.queries())
        if not self.dataset.has_scoreddocs():
            raise DataError(f"ir_datasets: {self.dataset_id} has no scoreddocs; give a run file")
        return self._scoreddocs()

    @property
    def negate_score(self) -> bool:
        handler = self.dataset.scoreddocs_handler() if self.run_path is None else None
        return bool(getattr(handler, "_negate_score", False))

    def run_file_path(self) -> Path | None:
        """The local scoreddocs file ir_datasets reads (downloading it first), for the fast reader."""
        if self.run_path is not None:
            return Path(self.run_path)
        handler = self.dataset.scoreddocs_handler() if self.dataset.has_scoreddocs() else None
        path_of = getattr(handler, "scoreddocs_path", None)
        if path_of is None:
            return None
        with fetching(self.dataset_id, "scoreddocs"):
            return Path(path_of())

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

    try:
        yield
    except (requests.RequestException, urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror) as e:
        url = getattr(getattr(e, "request", None), "url", None) or ""
        where = f" from {url}" if url else ""
        raise DataError(f"ir_datasets: cannot download the {what} of {dataset_id}{where} ({_reason(e)}); offline, use "
                        "a local copy in the irdata format: data=local data.path=DIR or eval=local eval.path=DIR"
                        ) from None


def declared_level(source: Source) -> int:
    """The relevance level a source declares for itself (``relevance_level`` in a folder's ``dataset.yaml``),
    else 1: binary metrics and training positives count relevance >= this."""
    value = source.declared().get("relevance_level")
    return value if isinstance(value, int) else 1


def read_declaration(path: Path) -> dict[str, object]:
    """Read a folder's ``dataset.yaml`` ({} when absent); unknown keys and bad values name the file."""
    if not path.is_file():
        return {}
    import yaml

    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise DataError(f"{path}: expected a mapping such as 'relevance_level: 2'")
    for key, value in values.items():
        if key not in DECLARABLE:
            raise DataError(f"{path}: unknown key {key!r} (known: {', '.join(DECLARABLE)})")
        if key == "relevance_level" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise DataError(f"{path}: relevance_level must be an integer >= 1, not {value!r}")
    return values


def _query_text(query: object) -> str:
    return getattr(query, "text", None) or getattr(query, "default_text", lambda: "")()


def _doc_text(doc: object) -> str:
    title = getattr(doc, "title", "") or ""
    text = getattr(doc, "text", None)
    if text is None:
        text = doc.default_text()  # type: ignore[attr-defined]
    return f"{title} {text}".strip() if title else text


def load_source(kind: str, path: str | None = None, dataset_id: str | None = None,
                run_path: str | None = None, name: str = "") -> Source:
    """Build a source from config values: ``kind`` is ``local`` (needs ``path``) or ``ir_datasets``."""
    from crossrank.errors import ConfigError

    if kind == "local":
        if not path:
            raise ConfigError("data.path / eval.path: a local source needs a directory path")
        return LocalSource(path, run_file=run_path or "run.tsv", name=name)
    if kind == "ir_datasets":
        if not dataset_id:
            raise ConfigError("dataset_id: an ir_datasets source needs a dataset id")
        return IRDatasetsSource(dataset_id, run_path=run_path, name=name)
    raise ConfigError(f"source kind {kind!r}: expected 'local' or 'ir_datasets'")
