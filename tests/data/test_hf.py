"""Training rows from a Hugging Face dataset (data.kind=hf), read by ``datasets`` from a local copy in the hub's
layout: Tevatron rows (the seed card's msmarco-w-instructions), sentence-transformers' pairs and tuples; the first
rows and a filter; validation held out of the rows; offline, one line naming the local alternative."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hf_rows import write_seed_rows

from crossrank.data.datamodule import PairDataModule
from crossrank.data.sources import load_source
from crossrank.errors import ConfigError, DataError

SEED_PAIRS = {"positives_per_query": 1, "negatives_per_query": None, "candidate_depth": None, "min_relevance": 1}


def write_parquet(folder: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000-of-00001.parquet")
    return folder


def test_each_kept_row_gives_its_positive_and_every_negative(tmp_path: Path) -> None:
    rows = write_seed_rows(tmp_path / "seed", n_rows=60)
    hf = {"path": str(tmp_path / "seed"), "rows": 40, "filter": {"has_instruction": False}}
    data = PairDataModule(pairs=SEED_PAIRS, kind="hf", hf=hf, cache_dir=str(tmp_path / "pairs"))
    data.build()
    train = data.train_dataset
    assert train is not None
    kept = [r for r in rows[:40] if not r["has_instruction"]]
    assert len(train) == sum(1 + len(r["negative_passages"]) for r in kept) and sum(train["label"]) == len(kept)
    by_query = {}
    for q, p, text, label in zip(train["qid"], train["pid"], train["passage"], train["label"]):  # texts kept inline
        by_query.setdefault(q, []).append((p, text, label))
    for row in kept:
        got = by_query[row["query_id"]]
        assert [(p["docid"], p["text"], 1.0) for p in row["positive_passages"]] == [g for g in got if g[2] == 1.0]
        assert sorted((p["docid"], p["text"], 0.0) for p in row["negative_passages"]) == \
            sorted(g for g in got if g[2] == 0.0)
    assert "its first 40 rows, the rows where has_instruction == false" in data.describe()["origin"]


def test_validation_queries_are_held_out_of_the_rows(tmp_path: Path) -> None:
    write_seed_rows(tmp_path / "seed", n_rows=20)
    data = PairDataModule(pairs={**SEED_PAIRS, "val_queries": 3}, kind="hf", hf={"path": str(tmp_path / "seed")},
                          val_depth=10, bm25_cache=str(tmp_path / "bm25"))
    data.build()
    assert data.train_dataset is not None and data.val_dataset is not None
    val_q = set(data.val_dataset["qid"])
    assert len(val_q) == 3 and not val_q & set(data.train_dataset["qid"])
    assert len(data.val_dataset) == 3 * 10  # each held-out row's passages, ordered by BM25 and cut at val_depth
    assert set(data.val_qrels) == val_q


def test_sentence_transformers_pairs_and_tuples(tmp_path: Path) -> None:
    pairs = write_parquet(tmp_path / "pairs", [
        {"query": "what are otters", "passage": "otters are mammals", "label": 1},
        {"query": "what are otters", "passage": "bikes have wheels", "label": 0},
        {"query": "how is bread made", "passage": "bread is baked", "label": 1}])
    source = load_source("hf", hf={"path": str(pairs)})
    assert len(source.queries()) == 2 and sum(len(j) for j in source.qrels().values()) == 2
    assert sum(1 for _ in source.iter_run()) == 3
    tuples = write_parquet(tmp_path / "tuples", [
        {"query": "what are otters", "positive": "otters are mammals", "negative_1": "bikes", "negative_2": "tea"}])
    source = load_source("hf", hf={"path": str(tuples)})
    (qid, judged), = source.qrels().items()
    assert [source.passages([p])[p] for p, _, in [(p, 0) for _, p, _ in source.iter_run()]] == \
        ["otters are mammals", "bikes", "tea"] and len(judged) == 1
    bad = write_parquet(tmp_path / "bad", [{"query": "q", "passage": "p", "label": 0.7}])
    with pytest.raises(DataError, match="label 0.7 is not a judgment"):
        load_source("hf", hf={"path": str(bad)}).qrels()
    worded = write_parquet(tmp_path / "worded", [{"query": "q", "passage": "p", "label": "relevant"}])
    with pytest.raises(DataError, match=r"^data.hf: row 1: label 'relevant' is not a judgment"):
        load_source("hf", hf={"path": str(worded)}).qrels()


def test_bad_settings_and_offline_hub_ids_are_one_line(tmp_path: Path) -> None:
    write_seed_rows(tmp_path / "seed", n_rows=4)
    with pytest.raises(ConfigError, match=r"data.hf.filter.has_instructions: .* has no column 'has_instructions'"):
        load_source("hf", hf={"path": str(tmp_path / "seed"), "filter": {"has_instructions": False}}).qrels()
    with pytest.raises(ConfigError, match=r"^data.hf.sheet: unknown key"):
        load_source("hf", hf={"path": "x", "sheet": 1})
    with pytest.raises(DataError) as error:
        load_source("hf", hf={"path": "samaya-ai/no-such-dataset-here", "rows": 5}).qrels()
    message = str(error.value)
    assert message.startswith("data.hf.path: cannot load samaya-ai/no-such-dataset-here") and "\n" not in message
    assert "data.hf.path=FOLDER" in message
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "train-00000-of-00001.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(DataError, match=r"^data.hf.path: cannot load .*broken \(") as error:
        load_source("hf", hf={"path": str(broken)}).qrels()
    assert "\n" not in str(error.value) and str(error.value).endswith("parquet files: check them")


def test_the_pair_cache_key_of_a_hub_dataset_follows_the_commit_the_hub_serves(monkeypatch) -> None:
    """The hub's API answered by a local server (huggingface_hub's own client asks it): a new commit of the dataset
    is a new key; a hub that cannot be asked, or offline mode, leaves the commit out, without an error; a pinned
    commit is the key's without asking."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import datasets
    import huggingface_hub.constants

    from crossrank.data.hf import hub_commit

    served = {"sha": "1" * 40}
    asked: list[str] = []

    class Hub(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            body = json.dumps({"id": "samaya-ai/msmarco-w-instructions", "sha": served["sha"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    for config in (huggingface_hub.constants, datasets.config):  # the suite's offline setting: here, online
        monkeypatch.setattr(config, "HF_HUB_OFFLINE", False)
    try:
        source = load_source("hf", hf={"path": "samaya-ai/msmarco-w-instructions"})
        first = json.loads(source.cache_key())
        hub_commit.cache_clear()
        served["sha"] = "2" * 40
        second = json.loads(source.cache_key())
    finally:
        server.shutdown()
        server.server_close()
        hub_commit.cache_clear()
    assert first["commit"] == "1" * 40 and second["commit"] == "2" * 40
    assert [p for p in asked if p.startswith("/api/datasets/samaya-ai/msmarco-w-instructions")]
    assert json.loads(source.cache_key())["commit"] is None  # nothing listens there now
    hub_commit.cache_clear()
    asked.clear()
    pinned = load_source("hf", hf={"path": "samaya-ai/msmarco-w-instructions", "revision": "3" * 40})
    assert json.loads(pinned.cache_key())["commit"] == "3" * 40
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    assert json.loads(source.cache_key())["commit"] is None and not asked
    hub_commit.cache_clear()
