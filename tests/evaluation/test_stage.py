"""The evaluation stage: local dirs with and without run.tsv, ir_datasets, resume, bad inputs, evaluate.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from data.test_sources import register_local_ir_dataset

from crossrank.errors import DataError
from crossrank.evaluation import rerank as rerank_mod
from crossrank.evaluation.spec import EvalSet
from crossrank.evaluation.stage import evaluate_set
from crossrank.models.scorer import CrossEncoderScorer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scorer(tiny_model_dir: Path) -> CrossEncoderScorer:
    return CrossEncoderScorer.from_pretrained(str(tiny_model_dir), max_length=64, num_labels=None)


def test_local_with_run(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    spec = EvalSet(name="dl", path=str(irdata_dir), relevance_level=2, depth=3,
                   compare_runs={"bm25_again": str(irdata_dir / "run.tsv")})
    result = evaluate_set(scorer, spec, tmp_path, progress=False)
    out = tmp_path / "eval" / "dl"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["n_pairs"] == 18 and saved["n_queries"] == 6 == result["n_queries"]
    assert set(saved["first_stage"]) == {"mrr@10-l2", "ndcg@10", "map-l2"}
    # the run puts the relevant passage 2nd everywhere: first-stage MRR@10 is exactly 1/2
    assert saved["first_stage"]["mrr@10-l2"] == pytest.approx(0.5)
    assert saved["others"]["bm25_again"] == saved["first_stage"]
    lines = (out / "run.trec").read_text().splitlines()
    assert len(lines) == 18 and lines[0].split()[1:4:2] == ["Q0", "1"]
    assert "| a | first_stage |" in (out / "report.md").read_text()
    assert (out / "per_query.tsv").read_text().count("\n") == 1 + 3 * 3 * 6


def test_local_without_run_uses_bm25(scorer, irdata_norun: Path, tmp_path: Path) -> None:
    result = evaluate_set(scorer, EvalSet(name="b", path=str(irdata_norun), depth=5, relevance_level=2),
                          tmp_path, progress=False)
    # BM25 ranks the on-topic passage first for every query
    assert result["first_stage"]["mrr@10-l2"] == pytest.approx(1.0)
    assert result["n_pairs"] <= 30


def test_bm25_first_stage_is_cached_until_the_collection_changes(irdata_norun: Path, tmp_path: Path) -> None:
    from crossrank.data.candidates import FirstStage, first_stage
    from crossrank.data.local import LocalSource

    cache = tmp_path / "bm25"
    how = FirstStage(cache_dir=cache)
    fresh = first_stage(LocalSource(irdata_norun), None, 5, how)
    assert len(list(cache.glob("runs/*.trec"))) == 1 and len(list(cache.glob("index/*/done"))) == 1
    assert first_stage(LocalSource(irdata_norun), None, 5, how) == fresh  # read back exactly
    with (irdata_norun / "collection.tsv").open("a") as f:
        f.write("p_new\thow do solar panels work: solar panels work, solar panels explained\n")
    edited = first_stage(LocalSource(irdata_norun), None, 5, how)
    assert len(list(cache.glob("runs/*.trec"))) == 2 and edited["q0"][0][0] == "p_new" != fresh["q0"][0][0]
    assert len(list(cache.glob("index/*/done"))) == 2  # the index of the old collection is not reused


def test_ir_datasets_source(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    dataset_id = register_local_ir_dataset("crossrank-test/eval-stage", irdata_dir)
    a = evaluate_set(scorer, EvalSet(name="ird", kind="ir_datasets", dataset_id=dataset_id, depth=None,
                                     relevance_level=2), tmp_path, progress=False)
    b = evaluate_set(scorer, EvalSet(name="loc", path=str(irdata_dir), depth=None, relevance_level=2),
                     tmp_path, progress=False)
    assert a["reranked"] == pytest.approx(b["reranked"]) and a["n_pairs"] == b["n_pairs"] == 30


def test_interrupted_rerank_resumes(scorer, irdata_dir: Path, tmp_path: Path, monkeypatch) -> None:
    spec = EvalSet(name="r", path=str(irdata_dir), depth=None, shard_size=7, relevance_level=2)
    calls = {"n": 0}
    real = rerank_mod._score_with_bar

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(rerank_mod, "_score_with_bar", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        evaluate_set(scorer, spec, tmp_path, progress=False)
    out = tmp_path / "eval" / "r"
    assert len(list((out / "shards").glob("shard-*.tsv"))) == 2
    assert not (out / "metrics.json").exists()

    monkeypatch.setattr(rerank_mod, "_score_with_bar", real)
    resumed = evaluate_set(scorer, spec, tmp_path, progress=False)
    assert resumed["n_pairs"] == 30 and resumed["scored_pairs"] == 30 - 14
    fresh = evaluate_set(scorer, spec, tmp_path / "fresh", progress=False)
    assert fresh["reranked"] == pytest.approx(resumed["reranked"])


def test_bad_run_leaves_no_metrics(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    spec = EvalSet(name="bad", path=str(irdata_dir))
    evaluate_set(scorer, spec, tmp_path, progress=False)
    (irdata_dir / "run.tsv").write_text("q0 Q0 p0_0 1 2.0 x\nq1 Q0 ghost 2 1.0 x\n")
    with pytest.raises(DataError, match="pid 'ghost' is not in the collection"):
        evaluate_set(scorer, spec, tmp_path / "again", progress=False)
    assert not (tmp_path / "again" / "eval" / "bad" / "metrics.json").exists()


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_evaluate_py(tiny_model_dir: Path, irdata_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("evaluate.py", f"model.name_or_path={tiny_model_dir}", "eval=local", f"eval.path={irdata_dir}",
                   "eval.relevance_level=2", f"hydra.run.dir={out}", "progress=false")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "eval" / "irdata" / "metrics.json").read_text())
    assert metrics["n_pairs"] == 30 and "ndcg@10" in metrics["reranked"]
    assert "first_stage" in proc.stdout and "reranked" in proc.stdout
    assert f"results in {out / 'eval'}: irdata/metrics.json" in proc.stdout  # where the outputs are


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.name_or_path=/no/such/model", "eval.path=IRDATA"],
         "error: model.name_or_path: /no/such/model does not exist"),
        (["model.name_or_path=TINY", "eval.path=IRDATA", "eval.metrics=[ndgc@10]"],
         "error: eval.metrics: unknown metric 'ndgc@10'"),
        (["model.name_or_path=TINY", "eval.path=/no/such/dir"], "error: /no/such/dir: data directory not found"),
        (["model.name_or_path=TINY"], "error: config key eval.path must be set"),
    ],
)
def test_evaluate_py_bad_input(args, message, tiny_model_dir: Path, irdata_dir: Path, tmp_path: Path) -> None:
    args = [a.replace("IRDATA", str(irdata_dir)).replace("TINY", str(tiny_model_dir)) for a in args]
    proc = run_cli("evaluate.py", *args, f"hydra.run.dir={tmp_path / 'o'}", "progress=false")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not list((tmp_path / "o").rglob("metrics.json"))


@pytest.mark.slow
def test_evaluate_py_splits_candidates_across_two_workers(tiny_model_dir: Path, irdata_dir: Path,
                                                          tmp_path: Path) -> None:
    common = [f"model.name_or_path={tiny_model_dir}", "eval=local", f"eval.path={irdata_dir}",
              "eval.relevance_level=2", "eval.shard_size=4", "progress=false"]
    two = run_cli("evaluate.py", *common, "model.devices=2", "model.device=cpu", f"hydra.run.dir={tmp_path / 'two'}")
    assert two.returncode == 0, two.stderr[-3000:]
    # one process, in this one (what evaluate.py runs with one device)
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    a = evaluate_set(scorer, EvalSet(name="irdata", path=str(irdata_dir), relevance_level=2, shard_size=4),
                     tmp_path / "one", progress=False)
    b = json.loads((tmp_path / "two" / "eval" / "irdata" / "metrics.json").read_text())
    assert b["n_pairs"] == a["n_pairs"] == 30
    assert b["reranked"] == pytest.approx(a["reranked"], abs=1e-6)
    # 30 pairs / 4 per shard = 8 shards, scored alternately by the two workers and merged
    assert len(list((tmp_path / "two" / "eval" / "irdata" / "shards").glob("shard-*.tsv"))) == 8


def test_scores_of_another_model_in_the_same_folder_are_not_reused(tiny_model_dir: Path, irdata_dir: Path,
                                                                  tmp_path: Path) -> None:
    """A retrained model written to the same folder, evaluated into the same OUT, gets its own scores."""
    from tiny import make_tiny_model

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    spec = EvalSet(name="m", path=str(irdata_dir), depth=None, shard_size=10, relevance_level=2)
    a = evaluate_set(CrossEncoderScorer.from_pretrained(str(folder), num_labels=None), spec, tmp_path / "out",
                     model_id=str(folder), progress=False)
    again = evaluate_set(CrossEncoderScorer.from_pretrained(str(folder), num_labels=None), spec, tmp_path / "out",
                         model_id=str(folder), progress=False)
    assert again["scored_pairs"] == 0 and again["reranked"] == a["reranked"]  # same model: resumed, not rescored
    shutil.rmtree(folder)
    shutil.copytree(make_tiny_model(tmp_path / "other", seed=1), folder)  # model B at model A's path
    b_scorer = CrossEncoderScorer.from_pretrained(str(folder), num_labels=None)
    b = evaluate_set(b_scorer, spec, tmp_path / "out", model_id=str(folder), progress=False)
    b_fresh = evaluate_set(b_scorer, spec, tmp_path / "fresh", model_id=str(folder), progress=False)
    assert b["scored_pairs"] == 30 and b["reranked"] == b_fresh["reranked"] != a["reranked"]
    assert b["model_digest"] == b_fresh["model_digest"] != a["model_digest"]


@pytest.mark.parametrize("backend", ["onnx", "torch-bf16"])
def test_scores_are_not_reused_across_backends(backend: str, scorer, irdata_dir: Path, tmp_path: Path) -> None:
    """The same weights on another backend are scored again (ONNX runs the very same weights), and the report
    still names the digest of the weights the folder holds."""
    from crossrank.models.backends import apply

    spec = EvalSet(name="m", path=str(irdata_dir), depth=None, relevance_level=2)
    torch_result = evaluate_set(scorer, spec, tmp_path, progress=False)
    other = evaluate_set(apply(scorer, backend, cache_dir=tmp_path / "onnx"), spec, tmp_path, progress=False)
    fresh = evaluate_set(apply(scorer, backend, cache_dir=tmp_path / "onnx"), spec, tmp_path / "fresh",
                         progress=False)
    assert other["scored_pairs"] == 30 and other["backend"] == backend
    assert other["reranked"] == fresh["reranked"]
    assert other["model_digest"] == torch_result["model_digest"]


def test_edited_candidates_and_texts_are_rescored(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    """A run file or a passage edited in place: the shards whose inputs changed are scored again, the others
    reused, and a shorter run leaves no stale shard behind."""
    spec = EvalSet(name="e", path=str(irdata_dir), depth=None, shard_size=10, relevance_level=2)
    evaluate_set(scorer, spec, tmp_path, progress=False)
    run = (irdata_dir / "run.tsv").read_text().splitlines()
    run[0], run[1] = run[1], run[0]  # q0's first two candidates swap places (in the first shard)
    (irdata_dir / "run.tsv").write_text("\n".join(run) + "\n")
    swapped = evaluate_set(scorer, spec, tmp_path, progress=False)
    assert swapped["scored_pairs"] == 10
    collection = (irdata_dir / "collection.tsv").read_text().replace("jazz piano explained", "jazz organ explained")
    (irdata_dir / "collection.tsv").write_text(collection)  # p3_0: a candidate of q3 (second shard) and of q2
    edited = evaluate_set(scorer, spec, tmp_path, progress=False)
    assert 0 < edited["scored_pairs"] < 30
    assert edited["reranked"] == evaluate_set(scorer, spec, tmp_path / "fresh", progress=False)["reranked"]
    (irdata_dir / "run.tsv").write_text("\n".join(run[:12]) + "\n")  # 12 candidates: 2 shards, not 3
    shorter = evaluate_set(scorer, spec, tmp_path, progress=False)
    assert shorter["n_pairs"] == 12 and len(list((tmp_path / "eval" / "e" / "shards").glob("shard-*.tsv"))) == 2


def test_judged_queries_without_candidates_score_zero(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    """A run that covers 2 of the 6 judged queries: the other 4 count 0 in every mean, as in trec_eval."""
    run = [line for line in (irdata_dir / "run.tsv").read_text().splitlines() if line.split()[0] in ("q0", "q1")]
    (irdata_dir / "run.tsv").write_text("\n".join(run) + "\n")
    spec = EvalSet(name="part", path=str(irdata_dir), depth=None, relevance_level=2,
                   compare_runs={"bm25_again": str(irdata_dir / "run.tsv")})
    result = evaluate_set(scorer, spec, tmp_path, progress=False)
    assert result["n_judged_queries"] == 6 and result["n_queries"] == 2
    # the relevant passage is 2nd for q0 and q1: MRR 1/2 each, 0 for the four queries without candidates
    assert result["first_stage"]["mrr@10-l2"] == pytest.approx(2 * 0.5 / 6)
    rows = (tmp_path / "eval" / "part" / "per_query.tsv").read_text().splitlines()
    zeros = [r for r in rows if r.startswith("reranked\tndcg@10\tq5\t")]
    assert zeros == ["reranked\tndcg@10\tq5\t0.000000"]


def _no_nan(token: str) -> float:
    raise ValueError(f"non-standard JSON constant {token}")


def test_metrics_json_is_strict_json(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    """values that do not exist are null, never a bare NaN that strict parsers reject."""
    # depth 1: the reranked run equals the first stage, so the paired test has no p-value
    spec = EvalSet(name="one", path=str(irdata_dir), depth=1, relevance_level=2)
    evaluate_set(scorer, spec, tmp_path, progress=False)
    resumed = evaluate_set(scorer, spec, tmp_path, progress=False)  # every shard reused: no pairs/s to report
    assert resumed["scored_pairs"] == 0
    out = tmp_path / "eval" / "one"
    for name in ("metrics.json", "report.json"):
        json.loads((out / name).read_text(), parse_constant=_no_nan)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["pairs_per_second"] is None
    assert saved["significance"]["ndcg@10"] is None


@pytest.mark.parametrize(("file", "content", "message"), [
    ("run.tsv", "", "run.tsv: the run is empty"),
    ("qrels.tsv", "q0 0 p0_0\n", "qrels.tsv:1: expected 4 columns"),
])
def test_bad_input_leaves_no_eval_folder(file: str, content: str, message: str, tiny_model_dir: Path,
                                         irdata_dir: Path, tmp_path: Path) -> None:
    """input that fails validation leaves no shards, meta.json or empty eval/<set>/ behind."""
    (irdata_dir / file).write_text(content)
    out = tmp_path / "o"
    proc = run_cli("evaluate.py", f"model.name_or_path={tiny_model_dir}", f"eval.path={irdata_dir}",
                   f"hydra.run.dir={out}", "progress=false")
    assert proc.returncode == 2 and message in proc.stderr
    assert not (out / "eval").exists()
    assert message in (out / "FAILED").read_text() and message in (out / "evaluate.log").read_text()


def test_error_mid_rerank_is_not_glued_to_the_progress_bar(tiny_model_dir: Path, irdata_dir: Path,
                                                           tmp_path: Path) -> None:
    """an error found while the progress bar runs starts its own line."""
    lines = (irdata_dir / "run.tsv").read_text().splitlines()
    qid, q0, _, rank, score, tag = lines[20].split("\t")
    lines[20] = "\t".join([qid, q0, "ghost", rank, score, tag])
    (irdata_dir / "run.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "o"
    proc = run_cli("evaluate.py", f"model.name_or_path={tiny_model_dir}", f"eval.path={irdata_dir}",
                   "eval.shard_size=8", f"hydra.run.dir={out}", "progress=true")
    assert proc.returncode == 2
    assert "pair/s" in proc.stderr  # the bar was drawn
    errors = [line for line in proc.stderr.split("\n") if "error:" in line]
    assert errors == [f"error: {irdata_dir / 'run.tsv'}:21: pid 'ghost' is not in the collection"], errors
    assert not list(out.rglob("metrics.json"))
