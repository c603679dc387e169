"""Published teacher scores for distillation: Hofstätter et al.'s BERT/ALBERT ensemble scores of MS MARCO passage
training triples ("Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge Distillation",
2020; Zenodo record 4068216), the scores sentence-transformers distilled the ms-marco-MiniLM v2 cross-encoders
from. The file's lines are ``pos_score neg_score qid pos_pid neg_pid`` (tab-separated).

``<base>/kd-docpairs`` is registered with ir_datasets (as lightning-ir does): the base dataset's passages and
queries, the triples' positives as judgments and every scored (query, passage) as the dataset's run, whose scores
are the teacher's. The file is downloaded by ir_datasets' own machinery (checked against its MD5) and turned
once into a TREC qrels and run beside it, so that the pair builder, the run picker and ``data.teacher_run:
source`` read it like any other dataset's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.data.kd_triples import teacher_tables
from crossrank.files import atomic_path, write_text

SUFFIX = "kd-docpairs"
#: the teacher run and qrels written from the triples: a new value converts every cached file again
CONVERSION = "teacher.run+positives.qrels v1"


@dataclass(frozen=True)
class TeacherScores:
    """A published file of teacher-scored training triples."""

    url: str
    md5: str
    file: str


HOFSTATTER_ENSEMBLE = TeacherScores(
    url="https://zenodo.org/record/4068216/files/bert_cat_ensemble_msmarcopassage_train_scores_ids.tsv?download=1",
    md5="4d99696386f96a7f1631076bcc53ac3c", file="bert_cat_ensemble_msmarcopassage_train_scores_ids.tsv")


def folder(base_id: str) -> Path:
    """Where the triples and what is made of them live: ``$IR_DATASETS_HOME/<base>/kd-docpairs/``."""
    from ir_datasets.util import home_path

    return Path(home_path()) / base_id / SUFFIX


def register(dataset_id: str, scores: TeacherScores = HOFSTATTER_ENSEMBLE) -> None:
    """Register ``<base>/kd-docpairs`` with ir_datasets (once): ``base``'s docs and queries, the triples'
    positives as qrels, their scores as scoreddocs."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TrecScoredDocs
    from ir_datasets.util import Cache, Download, RequestsDownload

    if dataset_id in ir_datasets.registry._registered:
        return
    base_id = dataset_id.removesuffix("/" + SUFFIX)
    triples = Cache(Download([RequestsDownload(scores.url)], expected_md5=scores.md5), folder(base_id) / scores.file)
    made = Converted(triples, folder(base_id))
    base = ir_datasets.load(base_id)
    ir_datasets.registry.register(dataset_id, Dataset(
        TrecScoredDocs(made.part("teacher.run")), TrecQrels(made.part("positives.qrels"), {1: "a judged positive"}),
        base))


class Converted:
    """The triples as a TREC run (every distinct scored pair, its teacher score) and TREC qrels (the positives),
    written atomically the first time either is read."""

    def __init__(self, triples: Any, root: Path) -> None:
        self.triples, self.root = triples, root

    def part(self, name: str) -> _Part:
        return _Part(self, self.root / name)

    def ensure(self) -> None:
        """Convert the triples, again whenever the file differs from the one the outputs were made from."""
        triples = Path(self.triples.path())
        stamp = self.root / "converted-from.json"
        made_from = json.dumps([CONVERSION, triples.name, triples.stat().st_size, triples.stat().st_mtime_ns])
        outputs = [self.root / "teacher.run", self.root / "positives.qrels"]
        if all(f.is_file() for f in outputs) and stamp.is_file() and stamp.read_text() == made_from:
            return
        stamp.unlink(missing_ok=True)
        run, qrels = teacher_tables(triples)
        write_trec(run, outputs[0], qrels=False)
        write_trec(qrels, outputs[1], qrels=True)
        write_text(stamp, made_from)
        del run, qrels
        from crossrank.data.memory import release_memory

        release_memory()


class _Part:
    """One converted file, in ir_datasets' download interface (``path``, ``stream``)."""

    def __init__(self, owner: Converted, path: Path) -> None:
        self.owner, self._path = owner, path

    def path(self, force: bool = True) -> Path:
        if force:
            self.owner.ensure()
        return self._path

    @contextlib.contextmanager
    def stream(self) -> Iterator[Any]:
        with self.path().open("rb") as f:
            yield f


def write_trec(table: Any, path: Path, qrels: bool) -> None:
    """A TREC run (each query's pairs by score, best first, ranks from 1) or TREC qrels (relevance 1), atomically.
    In Arrow, not through :func:`crossrank.data.trec.trec_lines`: the published file holds tens of millions of
    pairs, too many to format line by line in Python; the order is trec_lines' (score, then pid, descending; pids
    compared as numbers where they are integers, which only orders exact ties, and readers sort again)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    n = table.num_rows
    if qrels:
        table = table.sort_by([("qid", "ascending"), ("pid", "ascending")])
        out = pa.table({"qid": table["qid"], "iter": pa.repeat(pa.scalar("0"), n), "pid": table["pid"],
                        "rel": pa.repeat(pa.scalar(1), n)})
    else:
        table = table.sort_by([("qid", "ascending"), ("score", "descending"), ("pid", "descending")])
        codes = pc.dictionary_encode(table["qid"]).combine_chunks().indices.to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ranks = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) + 1
        out = pa.table({"qid": table["qid"], "q0": pa.repeat(pa.scalar("Q0"), n), "pid": table["pid"],
                        "rank": pa.array(ranks), "score": table["score"], "tag": pa.repeat(pa.scalar("teacher"), n)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pcsv.write_csv(out, tmp, write_options=pcsv.WriteOptions(include_header=False, delimiter=" ",
                                                                  quoting_style="none"))


def offline_hint(dataset_id: str, scores: TeacherScores = HOFSTATTER_ENSEMBLE) -> str:
    """Where to put the triples file by hand."""
    return (f"put {scores.file} (from {scores.url.partition('?')[0]}) in "
            f"{folder(dataset_id.removesuffix('/' + SUFFIX))}/ (its MD5 is {scores.md5})")
