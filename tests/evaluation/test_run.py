"""evaluate.py's stage in process: the model folder's own max_length rules, as in Reranker and CrossEncoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import compose_cfg

from crossrank import Reranker
from crossrank.data.local import LocalSource
from crossrank.evaluation.run import evaluate
from crossrank.models.export import export_model
from crossrank.models.scorer import CrossEncoderScorer


def shard_scores(out: Path) -> dict[tuple[str, str], float]:
    from crossrank.evaluation.rerank import iter_shard_rows

    return {(qid, pid): score for shards in out.glob("eval/*/shards") for qid, pid, _, score in iter_shard_rows(shards)}


@pytest.fixture
def short_export(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A model folder whose tokenizer says model_max_length 16: shorter than most of the fixture's pairs,
    long enough that only passages are cut (CrossEncoder's ``longest_first`` would cut a query that is
    longer than what is left for the passage; crossrank never cuts the query first)."""
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), max_length=16, num_labels=None)
    return export_model(scorer, tmp_path / "short")


def test_evaluate_reranker_and_crossencoder_score_alike(short_export: Path, irdata_dir: Path, tmp_path: Path) -> None:
    """evaluate.py scores at the folder's max_length, so its numbers are those of the model people load."""
    from sentence_transformers import CrossEncoder

    out = tmp_path / "out"
    evaluate(compose_cfg("evaluate", [f"model.name_or_path={short_export}", "eval=local", f"eval.path={irdata_dir}",
                                      "progress=false", "model.device=cpu"], out))
    ours = shard_scores(out)
    metrics = json.loads(next(out.glob("eval/*/metrics.json")).read_text())
    assert metrics["max_length"] == 16
    assert "max_length 16" in next(out.glob("eval/*/report.md")).read_text()

    source = LocalSource(str(irdata_dir))
    keys = sorted(ours)
    pairs = [(source.queries()[q], source.collection()[p]) for q, p in keys]
    expected = np.array([ours[k] for k in keys], dtype=np.float32)
    reranker = Reranker(str(short_export), device="cpu")
    assert reranker.scorer.max_length == 16
    np.testing.assert_allclose(reranker.predict(pairs), expected, atol=1e-6)
    np.testing.assert_allclose(CrossEncoder(str(short_export), device="cpu").predict(pairs), expected, atol=1e-6)
    # a longer length changes the scores: the check above can fail
    longer = Reranker(str(short_export), max_length=64, device="cpu").predict(pairs)
    assert np.abs(longer - expected).max() > 1e-5


def test_explicit_max_length_overrides_and_is_recorded(short_export: Path, irdata_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    evaluate(compose_cfg("evaluate", [f"model.name_or_path={short_export}", "eval=local", f"eval.path={irdata_dir}",
                                      "model.max_length=32", "progress=false", "model.device=cpu"], out))
    assert json.loads(next(out.glob("eval/*/metrics.json")).read_text())["max_length"] == 32
