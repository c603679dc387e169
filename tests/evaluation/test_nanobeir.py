"""NanoBEIR reranking evaluation: per-set figures and their mean, positives never added unless asked (and then
reported apart, as sentence-transformers computes them), training with the suite, the offline failures. The sets
are local stand-ins in both forms: read by ir_datasets' real ``nano-beir`` loader (``eval.dataset_id=nano-beir``),
and in sentence-transformers' NanoBEIR format (the default), against its own evaluator (:mod:`nanobeir`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from nanobeir import write_nanobeir_set

from crossrank.data.trec import read_run
from crossrank.errors import ConfigError
from crossrank.evaluation.spec import EvalSet, suite_members
from crossrank.evaluation.stage import evaluate_sets
from crossrank.models.scorer import CrossEncoderScorer

ROOT = Path(__file__).resolve().parents[2]
SETS = ["scifact", "nfcorpus", "arguana"]
METRICS = ["ndcg@10", "mrr@10", "map", "recall"]


@pytest.fixture(scope="module")
def nanobeir_sets() -> list[str]:
    for name in SETS:
        write_nanobeir_set(name)
    return SETS


@pytest.fixture(scope="module")
def scorer(tiny_model_dir: Path) -> CrossEncoderScorer:
    return CrossEncoderScorer.from_pretrained(str(tiny_model_dir), max_length=64, num_labels=None)


def suite(**kw) -> EvalSet:
    return EvalSet(**{"name": "nanobeir", "kind": "nanobeir", "sets": SETS, "depth": 5, "relevance_level": 1,
                      "metrics": METRICS, "dataset_id": "nano-beir", **kw})  # ir_datasets' copies, crossrank's BM25


def test_suite_reports_each_set_and_their_mean(nanobeir_sets, scorer, tmp_path: Path) -> None:
    results = evaluate_sets(scorer, suite_members(suite()), tmp_path, progress=False)
    assert set(results) == {f"nanobeir_{s}" for s in SETS} | {"nanobeir"}
    mean = json.loads((tmp_path / "eval" / "nanobeir" / "metrics.json").read_text())
    for run in ("first_stage", "reranked"):
        for m in ("ndcg@10", "mrr@10", "map"):
            values = [json.loads((tmp_path / "eval" / f"nanobeir_{s}" / "metrics.json").read_text())[run][m]
                      for s in SETS]
            assert mean[run][m] == pytest.approx(sum(values) / len(values))
            assert [mean["per_set"][s][run][m] for s in SETS] == pytest.approx(values)
    assert mean["n_sets"] == 3 and mean["n_queries"] == 30 and mean["sets"] == SETS
    per_set = pd.read_csv(tmp_path / "eval" / "nanobeir" / "per_query.tsv", sep="\t", dtype={"qid": str})
    assert sorted(per_set["qid"].unique()) == sorted(SETS)  # the sets are the units of the paired tests
    report = (tmp_path / "eval" / "nanobeir" / "report.md").read_text()
    assert all(f"| {s} | 10 |" in report for s in SETS) and "| **mean** | 30 |" in report
    # half of each set's positives share no word with their query: BM25 misses them and nothing adds them
    assert mean["first_stage"]["recall"] == pytest.approx(0.5)
    assert mean["reranked"]["recall"] == pytest.approx(0.5)
    assert "reranked_with_positives" not in mean
    assert not (tmp_path / "eval" / "nanobeir_scifact" / "run.with_positives.trec").exists()
    # evaluated again in the same folder on fewer sets: the set left out keeps no report that looks like this run's
    again = evaluate_sets(scorer, suite_members(suite(sets=SETS[:2])), tmp_path, progress=False)
    assert again["nanobeir"]["n_sets"] == 2 and again["nanobeir"]["sets"] == SETS[:2]
    assert not (tmp_path / "eval" / f"nanobeir_{SETS[2]}" / "metrics.json").exists()
    assert (tmp_path / "eval" / f"nanobeir_{SETS[0]}" / "metrics.json").exists()


def test_bm25_cache_of_a_set_follows_its_downloaded_files(tmp_path: Path) -> None:
    """A set whose files are downloaded again (or put there by hand) gets BM25 over the new corpus, not the cached
    run of the old one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crossrank.data.candidates import FirstStage, first_stage
    from crossrank.data.irds import IRDatasetsSource

    root = write_nanobeir_set("quora")
    how = FirstStage(cache_dir=tmp_path)
    before = first_stage(IRDatasetsSource("nano-beir/quora"), None, 5, how)
    assert first_stage(IRDatasetsSource("nano-beir/quora"), None, 5, how) == before
    assert len(list(tmp_path.glob("runs/*.trec"))) == 1
    docs = pq.read_table(root / "corpus.parquet").to_pylist()
    hit = next(d for d in docs if d["_id"] == "quora-d0-hit")
    hit["text"] = "nothing in common"
    pq.write_table(pa.Table.from_pylist(docs), root / "corpus.parquet")
    shutil.rmtree(root / "docs.pklz4")  # the lookup store ir_datasets built from the old file (not in a new download)
    after = first_stage(IRDatasetsSource("nano-beir/quora"), None, 5, how)
    assert len(list(tmp_path.glob("runs/*.trec"))) == 2
    assert "quora-d0-hit" in {p for p, _ in before["quora-q0"]} - {p for p, _ in after["quora-q0"]}


def st_samples(name: str, depth: int) -> list[dict]:
    """sentence-transformers' CrossEncoderRerankingEvaluator samples of a set: each query's texts of its
    positives and of our BM25 top ``depth`` (the candidates both evaluators rerank)."""
    from crossrank.data.candidates import first_stage
    from crossrank.data.irds import IRDatasetsSource

    source = IRDatasetsSource(f"nano-beir/{name}")
    queries, qrels = source.queries(), source.qrels()
    candidates = first_stage(source, None, depth)
    texts = source.passages({p for j in qrels.values() for p in j} | {p for c in candidates.values() for p, _ in c})
    return [{"query": queries[q], "positive": [texts[p] for p, r in qrels[q].items() if r >= 1],
             "documents": [texts[p] for p, _ in candidates.get(q, [])]} for q in sorted(qrels)]


def test_added_positives_are_reported_apart_as_sentence_transformers_computes_them(
        nanobeir_sets, scorer, tiny_model_dir: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    plain = evaluate_sets(scorer, suite_members(suite(sets=["scifact"])), tmp_path / "plain", progress=False)
    added = evaluate_sets(scorer, suite_members(suite(sets=["scifact"], rerank_positives=True)), tmp_path / "added",
                          progress=False)
    a, b = plain["nanobeir_scifact"], added["nanobeir_scifact"]
    assert a["first_stage"] == b["first_stage"] and a["reranked"] == pytest.approx(b["reranked"])
    assert b["reranked_with_positives"]["recall"] == 1.0 > b["reranked"]["recall"]
    out = tmp_path / "added" / "eval" / "nanobeir_scifact"
    far = {q for q, p, _ in read_run(out / "run.with_positives.trec") if p.endswith("-far")}
    assert len(far) == 10 and not any(p.endswith("-far") for _, p, _ in read_run(out / "run.trec"))
    assert added["nanobeir"]["reranked_with_positives"]["ndcg@10"] == b["reranked_with_positives"]["ndcg@10"]

    import torch

    model = CrossEncoder(str(tiny_model_dir), max_length=64, activation_fn=torch.nn.Identity())  # our scores
    samples = st_samples("scifact", 5)
    injected = CrossEncoderRerankingEvaluator(samples, always_rerank_positives=True, write_csv=False)(model)
    as_listed = CrossEncoderRerankingEvaluator(samples, always_rerank_positives=False, write_csv=False)(model)
    assert b["reranked_with_positives"]["ndcg@10"] == pytest.approx(injected["ndcg@10"], abs=1e-6)
    assert b["reranked_with_positives"]["mrr@10"] == pytest.approx(injected["mrr@10"], abs=1e-6)
    assert b["reranked_with_positives"]["map"] == pytest.approx(injected["map"], abs=1e-6)
    assert a["reranked"]["mrr@10"] == pytest.approx(as_listed["mrr@10"], abs=1e-6)
    # without injected positives its nDCG and MAP divide by every judged positive, as trec_eval's (and crossrank's)
    assert a["reranked"]["ndcg@10"] == pytest.approx(as_listed["ndcg@10"], abs=1e-6)
    assert a["reranked"]["map"] == pytest.approx(as_listed["map"], abs=1e-6)


def test_unknown_nanobeir_set_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"eval.sets: scifakt is not a NanoBEIR set \(known: climate-fever"):
        suite_members(suite(sets=["scifact", "scifakt"]))


def run_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_training_validates_on_a_nanobeir_set_and_reports_the_suite(nanobeir_sets, irdata_dir: Path,
                                                                     tmp_path: Path) -> None:
    from conftest import tiny_train_args

    out = tmp_path / "run"
    proc = run_py("train.py", *tiny_train_args(irdata_dir), "eval=none", "+extra_eval=[nanobeir]",
                  "extra_eval.nanobeir.dataset_id=nano-beir", "extra_eval.nanobeir.sets=[scifact,arguana]",
                  "extra_eval.nanobeir.depth=5",
                  "data.val_source={kind: ir_datasets, dataset_id: nano-beir/scifact, num_queries: 4, "
                  "min_relevance: 1}",
                  "optimized_metric=eval/nanobeir/reranked/ndcg@10", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    mean = json.loads((out / "eval" / "nanobeir" / "metrics.json").read_text())
    assert mean["sets"] == ["scifact", "arguana"] and mean["model"] == str(out / "model")
    logged = pd.read_csv(out / "csv" / "metrics.csv")
    assert logged["eval/nanobeir/reranked/ndcg@10"].dropna().tolist() == pytest.approx([mean["reranked"]["ndcg@10"]])
    assert logged["val/ndcg@10"].notna().any()  # validated on 4 queries of nano-beir/scifact
    # at scifact's own level (1), not the training data's (2): BM25 ranks each query's hit first
    assert logged["val/first_stage/mrr@10"].dropna().gt(0.5).all()
    card = (out / "model" / "README.md").read_text()
    assert "dataset:\n      name: nanobeir" in card and "### nanobeir (mean over 2 sets, 20 queries" in card


def test_offline_nanobeir_fails_in_one_line_before_loading_a_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    proc = run_py("evaluate.py", f"model.name_or_path={tiny_model_dir}", "eval=nanobeir", "eval.dataset_id=nano-beir",
                  "eval.sets=[fiqa]", f"hydra.run.dir={out}", "progress=false",
                  env={"IR_DATASETS_HOME": str(tmp_path / "empty"), "HTTPS_PROXY": "http://127.0.0.1:9",
                       "HTTP_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "cannot download the qrels of nano-beir/fiqa" in error[0]
    assert f"{tmp_path / 'empty' / 'nano-beir' / 'fiqa'}/" in error[0] and "zeta-alpha-ai/Nano<Set>" in error[0]
    assert not (out / "eval").exists()


@pytest.mark.slow
def test_two_models_compare_on_the_suite_paired_by_set(nanobeir_sets, tiny_model_dir: Path, tmp_path: Path) -> None:
    from tiny import make_tiny_model

    other = make_tiny_model(tmp_path / "other", seed=1)
    for name, model in (("a", tiny_model_dir), ("b", other)):
        proc = run_py("evaluate.py", f"model.name_or_path={model}", "eval=nanobeir", "eval.dataset_id=nano-beir",
                      f"eval.sets=[{','.join(SETS)}]",
                      "eval.depth=5", f"hydra.run.dir={tmp_path / name}", "progress=false")
        assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_py("-m", "crossrank", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                  str(tmp_path / "cmp"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (tmp_path / "cmp.md").read_text()
    suite_part = table.split("### nanobeir\n")[1].split("###")[0]
    assert "the mean over 3 sets all runs have, tested paired by set" in suite_part
    means = [json.loads((tmp_path / n / "eval" / "nanobeir" / "metrics.json").read_text())["reranked"]["ndcg@10"]
             for n in ("a", "b")]
    assert all(f"{m:.4f}" in suite_part for m in means) and means[0] != means[1]


def test_sentence_transformers_nanobeir_figures_are_its_evaluators(tiny_model_dir: Path, tmp_path: Path) -> None:
    """eval=nanobeir on a NanoBEIR dataset in sentence-transformers' format (a local copy in the hub's layout):
    each set's stored BM25 top 100 reranked; with the positives injected the figures equal
    CrossEncoderNanoBEIREvaluator's defaults, without them its always_rerank_positives=False figures."""
    import uuid

    import torch
    from nanobeir import write_st_nanobeir
    from sentence_transformers.cross_encoder import CrossEncoder
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderNanoBEIREvaluator

    from crossrank.evaluation.spec import eval_sets
    from crossrank.evaluation.stage import evaluate_sets

    folder = write_st_nanobeir(tmp_path / f"nanobeir-{uuid.uuid4().hex}", ["scifact", "nfcorpus"])  # a new name:
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), max_length=64, num_labels=None)  # no cache
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"eval": {**OmegaConf.to_container(compose_eval()), "dataset_id": str(folder),
                                     "sets": ["scifact", "nfcorpus"], "rerank_positives": True, "bm25_cache": None}})
    results = evaluate_sets(scorer, eval_sets(cfg), tmp_path / "out", progress=False)
    model = CrossEncoder(str(tiny_model_dir), max_length=64, activation_fn=torch.nn.Identity())
    for injected in (True, False):
        theirs = CrossEncoderNanoBEIREvaluator(["scifact", "nfcorpus"], dataset_id=str(folder),
                                               always_rerank_positives=injected, write_csv=False)(model)
        ranking = "reranked_with_positives" if injected else "reranked"
        for name, split in (("scifact", "NanoSciFact"), ("nfcorpus", "NanoNFCorpus")):
            ours = results[f"nanobeir_{name}"][ranking]
            for metric in ("ndcg@10", "mrr@10", "map"):
                assert ours[metric] == pytest.approx(theirs[f"{split}_R100_{metric}"], abs=1e-6), (name, metric)
    first = results["nanobeir_scifact"]
    assert first["first_stage_name"] == f"the stored BM25 ranking of {folder} (NanoSciFact)" and first["n_pairs"] > 0


def compose_eval():
    from helpers import compose_cfg

    return compose_cfg("evaluate", ["eval=nanobeir", "model.name_or_path=x"]).eval


def test_offline_hub_nanobeir_is_one_line(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    from helpers import compose_cfg

    from crossrank.cli.app import run

    cfg = compose_cfg("evaluate", [f"model.name_or_path={tiny_model_dir}", "eval=nanobeir", "eval.sets=[fiqa]",
                                   "progress=false", "model.device=cpu"], tmp_path)
    with pytest.raises(SystemExit) as exit_:
        run("evaluate", cfg)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert exit_.value.code == 2 and len(errors) == 1, errors
    assert errors[0].startswith("error: eval.dataset_id: cannot load sentence-transformers/NanoBEIR-en")
    assert "eval.dataset_id=FOLDER" in errors[0] and not (tmp_path / "eval").exists()


def break_ranking(folder: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = folder / "bm25" / "NanoSciFact-00000-of-00001.parquet"
    rows = pq.read_table(file).to_pylist()
    rows[1]["corpus-ids"] = [*rows[1]["corpus-ids"], "scifact-gone"]
    pq.write_table(pa.Table.from_pylist(rows), file)
    return "ranks passage 'scifact-gone' for query 'scifact-q1', which has no text in its corpus"


def break_parquet(folder: Path) -> str:
    (folder / "queries" / "NanoSciFact-00000-of-00001.parquet").write_bytes(b"not parquet")
    return "NanoSciFact-00000-of-00001.parquet: not a readable parquet file"


@pytest.mark.parametrize("damage", [break_ranking, break_parquet])
def test_a_broken_local_nanobeir_copy_fails_in_one_line_before_scoring(damage, tiny_model_dir: Path, tmp_path: Path,
                                                                        capsys) -> None:
    from helpers import compose_cfg
    from nanobeir import write_st_nanobeir

    from crossrank.cli.app import run

    folder = write_st_nanobeir(tmp_path / "nanobeir", ["scifact"])
    expected = damage(folder)
    cfg = compose_cfg("evaluate", [f"model.name_or_path={tiny_model_dir}", "eval=nanobeir", "eval.sets=[scifact]",
                                   f"eval.dataset_id={folder}", "progress=false", "model.device=cpu"], tmp_path)
    with pytest.raises(SystemExit) as exit_:
        run("evaluate", cfg)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert exit_.value.code == 2 and len(errors) == 1 and expected in errors[0], errors
    assert not (tmp_path / "eval").exists()


def test_a_nanobeir_member_without_its_dataset_is_a_config_error() -> None:
    from crossrank.data.sources import load_source

    with pytest.raises(ConfigError, match=r"'scifact': a nanobeir_set source is '<dataset>#<set>'"):
        load_source("nanobeir_set", dataset_id="scifact")
