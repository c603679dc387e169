"""MS MARCO through ir_datasets' own ``msmarco-passage`` loaders, on a stand-in in its cache layout (tests/msmarco.py):
training pairs from the judged subset, a pair set cached under the key later runs compute, the official candidates
(no scores, no order) ordered by BM25 over the collection, and a depth cut without an order refused."""

from __future__ import annotations

import io
import logging
import tarfile
from pathlib import Path

import bm25s
import numpy as np
import pytest
from msmarco import CANDIDATES, SETS, UNJUDGED_TRAIN, write_msmarco

from crossrank.data.candidates import FirstStage, first_stage
from crossrank.data.irds import IRDatasetsSource
from crossrank.errors import ConfigError


@pytest.fixture(scope="module")
def msmarco() -> Path:
    return write_msmarco()


def bm25s_order(root: Path, query: str, pids: list[str], depth: int | None = None) -> list[tuple[str, float]]:
    """``pids`` ranked by bm25s' own index over the stand-in's collection (k1 0.9, b 0.4), trec_eval's tie order."""
    rows = [line.split("\t") for line in (root / "collection.tsv").read_text().splitlines()]
    index = bm25s.BM25(k1=0.9, b=0.4)
    index.index(bm25s.tokenize([t for _, t in rows], stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
    scores = index.get_scores(tokens)
    row = {pid: i for i, (pid, _) in enumerate(rows)}
    ranked = sorted(((p, float(scores[row[p]])) for p in pids), key=lambda x: (x[1], x[0]), reverse=True)
    return ranked[:depth] if depth else ranked


def test_training_pairs_come_from_the_judged_subset(msmarco: Path, tmp_path: Path) -> None:
    from crossrank.data.datamodule import PairDataModule

    data = PairDataModule(pairs={"negatives_per_query": 5}, kind="ir_datasets",
                          dataset_id="msmarco-passage/train/judged", cache_dir=str(tmp_path / "pairs"))
    data.build()
    train = data.train_dataset
    assert train is not None
    judged = {line.split()[0]: line.split()[2] for line in (msmarco / "train" / "qrels").read_text().splitlines()}
    assert set(train["qid"]) == set(judged) and len(judged) == SETS["train"][4]  # unjudged queries left out
    assert len(IRDatasetsSource("msmarco-passage/train").queries()) == len(judged) + UNJUDGED_TRAIN
    assert len(train) == len(judged) * (1 + 5) and sum(train["label"]) == len(judged)
    run = {}
    for line in (msmarco / "train" / "ms.run").read_text().splitlines():
        q, p = line.split("\t")
        run.setdefault(q, set()).add(p)
    for q, p, label in zip(train["qid"], train["pid"], train["label"]):
        assert (p == judged[q]) == (label == 1.0) and p in run[q]  # negatives from the official candidates


def test_a_pair_set_built_while_files_arrive_is_found_by_the_next_run(msmarco: Path, tmp_path: Path, caplog) -> None:
    """ir_datasets extracts train/queries.tsv from its queries.tar.gz download during the first build: the set is
    kept under the key the files give afterwards, which the next run computes."""
    from crossrank.data.datamodule import PairDataModule

    root = write_msmarco()
    queries = (root / "train" / "queries.tsv").read_bytes()
    (root / "train" / "queries.tsv").unlink()
    with tarfile.open(root / "queries.tar.gz", "w:gz") as tar:  # where ir_datasets keeps that download
        info = tarfile.TarInfo("queries.train.tsv")
        info.size = len(queries)
        tar.addfile(info, io.BytesIO(queries))

    def build() -> None:
        PairDataModule(pairs={"negatives_per_query": 3}, kind="ir_datasets", dataset_id="msmarco-passage/train/judged",
                       cache_dir=str(tmp_path / "pairs")).build()

    build()
    assert (root / "train" / "queries.tsv").read_bytes() == queries  # extracted by ir_datasets during the build
    with caplog.at_level(logging.INFO, logger="crossrank.data.pairsets"):
        build()
    assert any("loading cached pairs" in r.getMessage() for r in caplog.records)
    assert len([p for p in (tmp_path / "pairs").iterdir() if (p / "done").exists()]) == 1


def test_official_candidates_without_scores_are_ordered_by_bm25(msmarco: Path, tmp_path: Path) -> None:
    source = IRDatasetsSource("msmarco-passage/dev/small")
    how = FirstStage(cache_dir=tmp_path / "bm25")
    got = first_stage(source, None, 5, how)
    queries = source.queries()
    assert len(got) == SETS["dev/small"][4]
    for qid, items in got.items():
        pids = [p for q, p, _ in source.iter_run() if q == qid]
        assert len(pids) == CANDIDATES
        expected = bm25s_order(msmarco, queries[qid], pids, 5)
        assert [p for p, _ in items] == [p for p, _ in expected]
        assert np.allclose([s for _, s in items], [s for _, s in expected], rtol=1e-6)
        assert [p for p, _ in items] != sorted(pids, reverse=True)[:5]  # not the largest pids
    index_folders = list((tmp_path / "bm25" / "index").iterdir())
    first_stage(IRDatasetsSource("msmarco-passage/trec-dl-2019/judged"), None, 5, how)
    assert list((tmp_path / "bm25" / "index").iterdir()) == index_folders  # one index for the whole collection


def test_a_depth_cut_of_a_run_without_scores_is_refused_without_an_order(msmarco: Path) -> None:
    source = IRDatasetsSource("msmarco-passage/trec-dl-2019/judged")
    with pytest.raises(ConfigError) as error:
        first_stage(source, None, 10, FirstStage("run", key="eval.first_stage"))
    message = str(error.value)
    assert "\n" not in message and message.startswith("eval.first_stage: run: the candidates of")
    assert "cannot be cut at depth 10" in message and "eval.first_stage=auto" in message
    kept = first_stage(source, None, None, FirstStage("run"))  # no cut, no order asked: every candidate
    assert all(len(items) == CANDIDATES for items in kept.values())


def test_bm25_first_stage_retrieves_from_the_whole_collection(msmarco: Path, tmp_path: Path) -> None:
    source = IRDatasetsSource("msmarco-passage/dev/small")
    got = first_stage(source, None, 3, FirstStage("bm25", cache_dir=tmp_path))
    all_pids = [line.split("\t")[0] for line in (msmarco / "collection.tsv").read_text().splitlines()]
    for qid, items in got.items():
        expected = bm25s_order(msmarco, source.queries()[qid], all_pids, 3)
        assert [p for p, _ in items] == [p for p, _ in expected]
        assert [s for _, s in items] == pytest.approx([s for _, s in expected], rel=1e-6)


def test_the_bm25_index_is_kept_under_its_collection_alone(tmp_path: Path) -> None:
    """ir_datasets extracts collection.tsv from its tarball during the first index build: the index is found by the
    next run, and a later download beside it (another file of msmarco-passage/) does not rebuild it."""
    root = write_msmarco()
    collection = (root / "collection.tsv").read_bytes()
    (root / "collection.tsv").unlink()
    with tarfile.open(root / "collectionandqueries.tar.gz", "w:gz") as tar:  # where ir_datasets keeps the download
        info = tarfile.TarInfo("collection.tsv")
        info.size = len(collection)
        tar.addfile(info, io.BytesIO(collection))
    how = FirstStage(cache_dir=tmp_path)
    first = first_stage(IRDatasetsSource("msmarco-passage/dev/small"), None, 3, how)
    assert (root / "collection.tsv").is_file()  # extracted during the build
    (root / "medmarco.qids").write_text("1\n")  # another download of the same dataset
    again = first_stage(IRDatasetsSource("msmarco-passage/trec-dl-2019/judged"), None, 3, how)
    assert len(list((tmp_path / "index").glob("*/done"))) == 1 and first and again
    with (root / "collection.tsv").open("a") as f:
        f.write("999999\tcompare solar panels aspect0 solar panels\n")
    first_stage(IRDatasetsSource("msmarco-passage/dev/small"), None, 3, how)
    assert len(list((tmp_path / "index").glob("*/done"))) == 2  # a changed collection: a new index
