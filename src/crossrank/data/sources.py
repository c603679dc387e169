"""What a data source is: one declared protocol (:class:`Source`) that local folders (:mod:`crossrank.data.local`)
and ir_datasets datasets (:mod:`crossrank.data.irds`) implement, so pair building, evaluation and teachers never
care where the data came from; and :func:`load_source`, which builds one from config values."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from crossrank.data.trec import Qrels, RunRow
from crossrank.errors import ConfigError

log = logging.getLogger(__name__)


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

    def cache_key(self) -> str:
        """What identifies the source and its contents, for caches of what is built from it (a local folder: its
        path and its files' sizes and times; an ir_datasets dataset: its id, which names fixed files)."""
        ...

    def collection_key(self) -> str:
        """What identifies the collection alone (its passages), for the BM25 index of it: sets that share a
        collection (MS MARCO's train, dev and TREC DL subsets) share the index."""
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


def declared_level(source: Source) -> int:
    """The relevance level a source declares for itself (``relevance_level`` in a folder's ``dataset.yaml``),
    else 1: binary metrics and training positives count relevance >= this."""
    value = source.declared().get("relevance_level")
    return value if isinstance(value, int) else 1


def graded_level_warning(qrels: Mapping[str, Mapping[str, int]], level: int, what: str, fix: str) -> str | None:
    """A warning when judgments are graded (max grade > 1) but relevance >= 1 counts as relevant, which
    is not trec_eval's ``-l 2`` convention for TREC DL; logged and returned (None when all is well)."""
    top = max((r for judged in qrels.values() for r in judged.values()), default=0)
    if level != 1 or top <= 1:
        return None
    message = (f"{what}: the judgments are graded 0-{top} but relevance >= 1 counts as relevant; "
               f"TREC DL reports use level 2 ({fix}, or relevance_level: 2 in the folder's dataset.yaml)")
    log.warning(message)
    return message


def load_source(kind: str, path: str | None = None, dataset_id: str | None = None,
                run_path: str | None = None, name: str = "", hf: Mapping[str, Any] | None = None) -> Source:
    """Build a source from config values: ``kind`` is ``local`` (needs ``path``), ``ir_datasets`` (``dataset_id``),
    ``hf`` (``hf``: a Hugging Face dataset's ``path`` and how its rows are read, :mod:`crossrank.data.hf`) or
    ``nanobeir_set`` (``dataset_id``: ``<dataset>#<set>``, :mod:`crossrank.data.nanobeir`)."""
    if kind == "local":
        if not path:
            raise ConfigError("data.path / eval.path: a local source needs a directory path")
        from crossrank.data.local import LocalSource

        return LocalSource(path, run_file=run_path or "run.tsv", name=name)
    if kind == "ir_datasets":
        if not dataset_id:
            raise ConfigError("dataset_id: an ir_datasets source needs a dataset id")
        from crossrank.data.irds import IRDatasetsSource

        return IRDatasetsSource(dataset_id, run_path=run_path, name=name)
    if kind == "nanobeir_set":  # one set of a NanoBEIR dataset in sentence-transformers' format: "<id>#<set>"
        from crossrank.data.nanobeir import SEPARATOR, NanoBEIRSource

        dataset, _, set_name = str(dataset_id).rpartition(SEPARATOR)
        if not dataset:
            raise ConfigError(f"dataset_id: {dataset_id!r}: a nanobeir_set source is '<dataset>{SEPARATOR}<set>' "
                              f"(e.g. sentence-transformers/NanoBEIR-en{SEPARATOR}scifact)")
        return NanoBEIRSource(dataset, set_name, name=name)
    if kind == "hf":
        from crossrank.data.hf import KEYS, HFSource

        values = dict(hf or {})
        unknown = sorted(set(values) - KEYS)
        if unknown or not values.get("path"):
            raise ConfigError(f"data.hf.{unknown[0]}: unknown key (known: {', '.join(sorted(KEYS))})" if unknown
                              else "data.hf.path: an hf source needs a hub dataset id or a local folder")
        return HFSource(**values, name=name)
    raise ConfigError(f"source kind {kind!r}: expected 'local', 'ir_datasets', 'hf' or 'nanobeir_set'")


#: What ``data.val_source`` holds besides the source: how many of its judged queries validate, and from which
#: relevance on a query counts (None: the training pairs' ``min_relevance``).
VAL_SAMPLE = {"num_queries": None, "min_relevance": None}


def val_source_config(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data.val_source`` as (:func:`load_source` arguments, :data:`VAL_SAMPLE` settings); an unknown key is a
    one-line error."""
    known = {"kind", "path", "dataset_id", "run_path", "name", "hf"}
    unknown = sorted(set(values) - known - set(VAL_SAMPLE))
    if unknown:
        raise ConfigError(f"data.val_source.{unknown[0]}: unknown key (known: "
                          f"{', '.join(sorted(known | set(VAL_SAMPLE)))})")
    return ({k: v for k, v in values.items() if k in known},
            {k: values.get(k, default) for k, default in VAL_SAMPLE.items()})

