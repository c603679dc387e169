"""A local folder in the irdata format: ``queries.tsv`` and ``collection.tsv`` (``id<TAB>text``), ``qrels.tsv``
(TREC qrels), an optional ``run.tsv`` (a TREC run) and an optional ``dataset.yaml`` (what the set declares of
itself). Every file is validated as it is read; a problem is one line naming the file and line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crossrank.data.lines import read_lines
from crossrank.data.trec import Qrels, RunRow, read_qrels, read_run
from crossrank.errors import DataError
from crossrank.files import file_stamp

log = logging.getLogger(__name__)

_ANNOUNCED: set[Path] = set()  # folders whose judged-but-textless pairs were already reported

DECLARABLE = {"relevance_level": "binary metrics and training positives count relevance >= this (TREC DL: 2)"}


def read_id_text_tsv(path: Path) -> dict[str, str]:
    """Read ``id<TAB>text`` lines (queries.tsv, collection.tsv)."""
    out: dict[str, str] = {}
    for n, line in read_lines(path):
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

    def cache_key(self) -> str:
        files = sorted({*self.root.glob("*.tsv"), *self.root.glob("dataset.yaml"),
                        *([run] if (run := self.run_path()) is not None else [])})
        stamps = [file_stamp(p) for p in files]
        return json.dumps({"local": str(self.root.resolve()), "run": self.run_file, "files": stamps})

    def collection_key(self) -> str:
        path = self.root / "collection.tsv"
        return json.dumps({"local collection": str(path.resolve()), "file": file_stamp(path)})

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
        return read_run(path, self.queries(), self.collection())

    def passages(self, pids: Iterable[str]) -> dict[str, str]:
        collection = self.collection()
        return {pid: collection[pid] for pid in pids if pid in collection}

    def iter_passages(self) -> Iterator[tuple[str, str]]:
        return iter(self.collection().items())
