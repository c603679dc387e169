"""NanoBEIR as sentence-transformers publishes it (``sentence-transformers/NanoBEIR-en``, and the other languages in
the same format): four subsets, ``corpus`` (``_id, text``), ``queries`` (``_id, text``), ``qrels`` (``query-id,
corpus-id``) and ``bm25`` (``query-id, corpus-ids``: each query's stored BM25 ranking), each with one split per set
(``NanoSciFact``...), read with ``datasets``. The first stage is the stored BM25 ranking, the candidates
sentence-transformers' ``CrossEncoderNanoBEIREvaluator`` reranks, and the queries and judgments are those it
scores, so crossrank's figures can be set beside the published ones. ``dataset_id`` is a hub id or a local folder in
the hub's layout (``<subset>/<Split>-*.parquet``), whose files are read directly (a rewritten folder is read
again; nothing goes to ``datasets``' cache)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank.data.inmemory import InMemoryRun, hub_errors_as_one_line, local_folder
from crossrank.data.trec import Qrels, RunRow
from crossrank.errors import DataError, first_line
from crossrank.files import file_stamp

#: The hub dataset ``eval=nanobeir`` reads by default.
DEFAULT_DATASET = "sentence-transformers/NanoBEIR-en"
#: crossrank's set names (ir_datasets' ``nano-beir/<set>``) and the splits sentence-transformers names them by.
SPLITS = {"climate-fever": "NanoClimateFEVER", "dbpedia-entity": "NanoDBPedia", "fever": "NanoFEVER",
          "fiqa": "NanoFiQA2018", "hotpotqa": "NanoHotpotQA", "msmarco": "NanoMSMARCO", "nfcorpus": "NanoNFCorpus",
          "nq": "NanoNQ", "quora": "NanoQuoraRetrieval", "scidocs": "NanoSCIDOCS", "arguana": "NanoArguAna",
          "scifact": "NanoSciFact", "webis-touche2020": "NanoTouche2020"}
SUBSETS = ("corpus", "queries", "qrels", "bm25")
#: The columns each subset must have (sentence-transformers' evaluator asks for the same).
COLUMNS = {"corpus": ("_id", "text"), "queries": ("_id", "text"), "qrels": ("query-id", "corpus-id"),
           "bm25": ("query-id", "corpus-ids")}
SEPARATOR = "#"  # a member set's dataset_id: "<dataset>#<set>"
#: ``eval.dataset_id`` that reads ir_datasets' English copies (``nano-beir/<set>``) with crossrank's own BM25.
IR_DATASETS_COPIES = "nano-beir"
OFFLINE = (f"offline, give a local copy in its layout (eval.dataset_id=FOLDER), or for English ir_datasets' files "
           f"(eval.dataset_id={IR_DATASETS_COPIES})")


def member_id(dataset_id: str, name: str) -> str:
    return f"{dataset_id}{SEPARATOR}{name}"


@dataclass
class NanoBEIRSource(InMemoryRun):
    """One NanoBEIR set (``set_name``: crossrank's name, a key of :data:`SPLITS`) of a dataset in
    sentence-transformers' format."""

    dataset_id: str
    set_name: str
    name: str = ""
    _tables: dict[str, Any] = field(default_factory=dict, repr=False)
    fingerprints: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.set_name not in SPLITS:
            raise DataError(f"{member_id(self.dataset_id, self.set_name)}: {self.set_name!r} is not a NanoBEIR set "
                            f"(known: {', '.join(SPLITS)})")
        self.split = SPLITS[self.set_name]
        self.name = self.name or f"nanobeir_{self.set_name}"

    @property
    def local(self) -> Path | None:
        return local_folder(self.dataset_id)

    def files(self, subset: str) -> list[Path]:
        """A local folder's parquet files of one subset and this set's split."""
        assert self.local is not None
        folder = self.local / subset
        return sorted([*folder.glob(f"{self.split}-*.parquet"), *folder.glob(f"{self.split}.parquet")])

    def table(self, subset: str) -> Any:
        """One subset's split (loaded once): a local folder's parquet files read directly (no copy in ``datasets``'
        cache, so a rewritten folder is read again), a hub dataset through ``datasets``; its columns checked."""
        if subset not in self._tables:
            local = self.local
            if local is not None:
                import pyarrow
                import pyarrow.parquet as pq

                files = self.files(subset)
                if not files:
                    raise DataError(f"{local}: has no {subset}/{self.split}-*.parquet (the layout of "
                                    f"{DEFAULT_DATASET})")
                try:
                    table = pq.read_table([str(f) for f in files]) if len(files) > 1 else pq.read_table(str(files[0]))
                except (OSError, pyarrow.ArrowException) as e:
                    raise DataError(f"{files[0]}: not a readable parquet file ({first_line(e)})") from None
                columns = table.column_names
                self._tables[subset] = {c: table.column(c).to_pylist() for c in columns}
            else:
                self._tables[subset] = self._from_hub(subset)
            missing = [c for c in COLUMNS[subset] if c not in self._tables[subset]]
            if missing:
                raise DataError(f"{self.dataset_id}: its {subset} ({self.split}) has no column "
                                f"{missing[0]!r} (a NanoBEIR {subset} has {', '.join(COLUMNS[subset])})")
        return self._tables[subset]

    def _from_hub(self, subset: str) -> dict[str, list[Any]]:
        import datasets

        with hub_errors_as_one_line("eval.dataset_id", self.dataset_id, f"{subset}, {self.split}: ", OFFLINE):
            table = datasets.load_dataset(self.dataset_id, subset, split=self.split)
        self.fingerprints[subset] = table._fingerprint  # what the hub served: part of the cache keys
        return {c: table[c] for c in table.column_names}

    # -- the Source protocol ------------------------------------------------------------------
    def queries(self) -> dict[str, str]:
        t = self.table("queries")
        return dict(zip(map(str, t["_id"]), t["text"]))

    def qrels(self) -> Qrels:
        """Every qrels row a positive (relevance 1, a ``score`` column ignored), of the queries the stored ranking
        holds: the queries sentence-transformers' evaluator scores."""
        t = self.table("qrels")
        ranked = set(map(str, self.table("bm25")["query-id"]))
        qrels: Qrels = {}
        for qid, pids in zip(map(str, t["query-id"]), t["corpus-id"]):
            if qid in ranked:
                for pid in pids if isinstance(pids, list) else [pids]:
                    qrels.setdefault(qid, {})[str(pid)] = 1
        return qrels

    def check(self) -> None:
        """Every subset loads, and the stored ranking names only known queries and passages with a text: a broken
        copy fails in seconds, not after the sets before it are reranked."""
        queries, corpus, _ = self.queries(), self.corpus(), self.qrels()
        for qid, pids in zip(map(str, self.table("bm25")["query-id"]), self.table("bm25")["corpus-ids"]):
            if qid not in queries:
                raise DataError(f"{self.dataset_id}: its bm25 ({self.split}) ranks query {qid!r}, which is not in "
                                "its queries")
            missing = next((str(p) for p in pids if corpus.get(str(p)) is None), None)
            if missing is not None:
                raise DataError(f"{self.dataset_id}: its bm25 ({self.split}) ranks passage {missing!r} for query "
                                f"{qid!r}, which has no text in its corpus")

    def declared(self) -> dict[str, object]:
        return {}

    def cache_key(self) -> str:
        return json.dumps({"nanobeir": self.dataset_id, "split": self.split, "files": self._stamps(SUBSETS)})

    def collection_key(self) -> str:
        return json.dumps({"nanobeir corpus": self.dataset_id, "split": self.split,
                           "files": self._stamps(("corpus",))})

    def _stamps(self, subsets: Iterable[str]) -> list[Any]:
        """The local files' stamps, or what the hub served (each subset's fingerprint)."""
        if self.local is not None:
            return [file_stamp(f) for s in subsets for f in self.files(s)]
        for s in subsets:
            self.table(s)
        return [self.fingerprints.get(s) for s in subsets]

    def has_run(self) -> bool:
        return True

    def iter_run(self) -> Iterator[RunRow]:
        """The stored BM25 ranking of each query, its order as scores (the list carries none: the first scores
        highest)."""
        t = self.table("bm25")
        for qid, pids in zip(t["query-id"], t["corpus-ids"]):
            for rank, pid in enumerate(pids):
                yield str(qid), str(pid), float(len(pids) - rank)

    def corpus(self) -> dict[str, str]:
        if "_corpus" not in self._tables:
            t = self.table("corpus")
            self._tables["_corpus"] = dict(zip(map(str, t["_id"]), t["text"]))
        return self._tables["_corpus"]

    def passages(self, pids: Iterable[str]) -> dict[str, str]:
        corpus = self.corpus()
        return {p: corpus[p] for p in pids if p in corpus}

    def passage_ids(self) -> set[str] | None:
        return set(self.corpus())

    def iter_passages(self) -> Iterator[tuple[str, str]]:
        return iter(self.corpus().items())

    def describe_first_stage(self) -> str:
        return f"the stored BM25 ranking of {self.dataset_id} ({self.split})"
