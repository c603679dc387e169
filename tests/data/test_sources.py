"""Local TSV sources, their bad-input errors, and the ir_datasets path on a locally registered dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank.data.irds import IRDatasetsSource
from crossrank.data.local import LocalSource
from crossrank.data.sources import load_source
from crossrank.errors import ConfigError, DataError


def test_local_source_reads_everything(irdata_dir: Path) -> None:
    src = LocalSource(str(irdata_dir))
    assert len(src.queries()) == 6 and len(src.collection()) == 24
    assert src.qrels()["q0"] == {"p0_0": 2, "p0_1": 0}
    rows = list(src.iter_run())
    assert rows[0] == ("q0", "p0_1", 10.0) and len(rows) == 30
    assert src.passages(["p0_0", "nope"]) == {"p0_0": src.collection()["p0_0"]}


def test_local_source_without_run(irdata_norun: Path) -> None:
    assert not LocalSource(str(irdata_norun)).has_run()


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("queries.tsv", "q0\thello\textra\n", "queries.tsv:1: expected 2 tab-separated columns"),
        ("queries.tsv", "", "queries.tsv: file is empty"),
        ("collection.tsv", b"p0\tcaf\xe9\n", "collection.tsv:1: not valid UTF-8"),
        ("qrels.tsv", "q0\t0\tp0_0\n", "qrels.tsv:1: expected 4 columns"),
        ("qrels.tsv", "q0\t0\tp0_0\t2\nqX\t0\tp0_0\t1\n", "qrels.tsv:2: qid 'qX' is not in queries.tsv"),
        ("qrels.tsv", "q0\t0\tp0_0\thigh\n", "qrels.tsv:1: relevance 'high' is not an integer"),
        ("run.tsv", "q0 Q0 pZZ 1 3.0 bm25\n", "run.tsv:1: pid 'pZZ' is not in the collection"),
        ("run.tsv", "qZ Q0 p0_0 1 3.0 bm25\n", "run.tsv:1: qid 'qZ' is not in the queries"),
        ("run.tsv", "q0 Q0 p0_0 1 3.0\n", "run.tsv:1: expected 6 columns"),
        ("run.tsv", "\n", "run.tsv: the run is empty"),
    ],
)
def test_bad_input_names_file_and_line(irdata_dir: Path, file: str, content, message: str) -> None:
    path = irdata_dir / file
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    src = LocalSource(str(irdata_dir))
    with pytest.raises(DataError) as err:
        src.queries(), src.collection(), src.qrels(), list(src.iter_run()) if src.has_run() else None
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_dir_and_file(tmp_path: Path, irdata_dir: Path) -> None:
    with pytest.raises(DataError, match="data directory not found"):
        LocalSource(str(tmp_path / "absent"))
    (irdata_dir / "qrels.tsv").unlink()
    with pytest.raises(DataError, match="qrels.tsv: file not found"):
        LocalSource(str(irdata_dir)).qrels()
    with pytest.raises(ConfigError):
        load_source("sqlite", str(irdata_dir))


def register_local_ir_dataset(name: str, root: Path) -> str:
    """Register an irdata folder with ir_datasets under ``name`` (same formats as the real datasets);
    without a run.tsv it has no scoreddocs, like BEIR's datasets."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TrecScoredDocs, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    if name not in ir_datasets.registry:
        ir_datasets.registry.register(name, Dataset(
            TsvDocs(LocalDownload(root / "collection.tsv"), namespace=name, lang="en"),
            TsvQueries(LocalDownload(root / "queries.tsv"), namespace=name, lang="en"),
            TrecQrels(LocalDownload(root / "qrels.tsv"), {0: "not", 1: "rel", 2: "high"}),
            *([TrecScoredDocs(LocalDownload(root / "run.tsv"))] if (root / "run.tsv").exists() else []),
        ))
    return name


@pytest.fixture
def ir_dataset_id(irdata_dir: Path) -> str:
    return register_local_ir_dataset(f"crossrank-test/{irdata_dir.parent.name}", irdata_dir)


def test_ir_datasets_source_matches_local(ir_dataset_id: str, irdata_dir: Path) -> None:
    ird = IRDatasetsSource(ir_dataset_id)
    local = LocalSource(str(irdata_dir))
    assert ird.queries() == local.queries()
    assert ird.qrels() == local.qrels()
    assert ird.has_run()
    assert sorted((q, p) for q, p, _ in ird.iter_run()) == sorted((q, p) for q, p, _ in local.iter_run())
    assert ird.passages(["p1_0", "p2_3"]) == local.passages(["p1_0", "p2_3"])


def test_unknown_ir_dataset() -> None:
    with pytest.raises(DataError, match="unknown dataset id"):
        IRDatasetsSource("no-such/dataset")


def test_ir_dataset_without_scoreddocs_uses_bm25(irdata_norun: Path) -> None:
    from crossrank.data.candidates import first_stage

    ird = IRDatasetsSource(register_local_ir_dataset("crossrank-test/norun", irdata_norun))
    assert not ird.has_run()
    assert first_stage(ird, None, depth=5) == first_stage(LocalSource(str(irdata_norun)), None, depth=5)


def test_failed_download_is_one_line(tmp_path: Path) -> None:
    """a dataset whose files cannot be fetched names what, from where, and the offline way."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TsvQueries
    from ir_datasets.util import Cache, RequestsDownload

    name = "crossrank-test/unreachable"
    if name not in ir_datasets.registry:
        url = "http://127.0.0.1:9/queries.tsv"  # nothing listens on the discard port
        ir_datasets.registry.register(name, Dataset(TsvQueries(
            Cache(RequestsDownload(url, tries=1), tmp_path / "queries.tsv"), namespace=name, lang="en")))
    with pytest.raises(DataError) as err:
        IRDatasetsSource(name).queries()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("ir_datasets: cannot download the queries of crossrank-test/unreachable from "
                              "http://127.0.0.1:9/queries.tsv (Connection refused)")
    assert "data=local data.path=DIR" in message


def test_val_source_config_splits_sample_settings_and_names_unknown_keys() -> None:
    from crossrank.data.sources import val_source_config

    fields, sample = val_source_config({"kind": "local", "path": "D", "num_queries": 8, "min_relevance": 1})
    assert fields == {"kind": "local", "path": "D"} and sample == {"num_queries": 8, "min_relevance": 1}
    with pytest.raises(ConfigError, match=r"^data.val_source.num_querys: unknown key \(known: dataset_id, hf, kind"):
        val_source_config({"kind": "local", "path": "D", "num_querys": 8})
