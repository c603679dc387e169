"""Relevance levels: said in every report, declared by a folder's dataset.yaml, warned about when graded
judgments are read at level 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrank.data.local import LocalSource
from crossrank.data.sources import graded_level_warning
from crossrank.errors import DataError
from crossrank.evaluation.spec import EvalSet
from crossrank.evaluation.stage import evaluate_set
from crossrank.models.scorer import CrossEncoderScorer


@pytest.fixture(scope="module")
def scorer(tiny_model_dir: Path) -> CrossEncoderScorer:
    return CrossEncoderScorer.from_pretrained(str(tiny_model_dir), max_length=64, num_labels=None)


def test_graded_judgments_at_level_one_warn(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    """graded qrels (0-2) read at level 1 give a warning in metrics.json and report.md."""
    result = evaluate_set(scorer, EvalSet(name="g", path=str(irdata_dir)), tmp_path, progress=False)
    assert result["relevance_level"] == 1 and "mrr@10" in result["reranked"]
    assert len(result["warnings"]) == 1 and "graded 0-2 but relevance >= 1" in result["warnings"][0]
    report = (tmp_path / "eval" / "g" / "report.md").read_text()
    assert "count relevance >= 1 as relevant" in report and "Warning:" in report


def test_dataset_yaml_declares_the_level(scorer, irdata_dir: Path, tmp_path: Path) -> None:
    (irdata_dir / "dataset.yaml").write_text("relevance_level: 2\n")
    result = evaluate_set(scorer, EvalSet(name="d", path=str(irdata_dir)), tmp_path, progress=False)
    assert result["relevance_level"] == 2 and "mrr@10-l2" in result["reranked"] and result["warnings"] == []
    saved = json.loads((tmp_path / "eval" / "d" / "metrics.json").read_text())
    assert saved["relevance_level"] == 2
    assert "count relevance >= 2 as relevant" in (tmp_path / "eval" / "d" / "report.md").read_text()
    # an explicit config value wins over the declaration
    explicit = evaluate_set(scorer, EvalSet(name="e", path=str(irdata_dir), relevance_level=1), tmp_path,
                            progress=False)
    assert explicit["relevance_level"] == 1 and explicit["warnings"]


@pytest.mark.parametrize(("text", "message"), [
    ("relevance: 2\n", "dataset.yaml: unknown key 'relevance'"),
    ("relevance_level: two\n", "dataset.yaml: relevance_level must be an integer >= 1, not 'two'"),
    ("- 2\n", "dataset.yaml: expected a mapping"),
])
def test_bad_dataset_yaml(irdata_dir: Path, text: str, message: str) -> None:
    (irdata_dir / "dataset.yaml").write_text(text)
    with pytest.raises(DataError, match=message):
        LocalSource(str(irdata_dir)).declared()


def test_binary_judgments_do_not_warn() -> None:
    assert graded_level_warning({"q": {"a": 1, "b": 0}}, 1, "x", "fix") is None
    assert graded_level_warning({"q": {"a": 3}}, 2, "x", "fix") is None
    assert "graded 0-3" in graded_level_warning({"q": {"a": 3}}, 1, "x", "fix")


def test_nanobeir_sets_default_all_and_bad_choices() -> None:
    from omegaconf import OmegaConf

    from crossrank.errors import ConfigError
    from crossrank.evaluation.spec import NANOBEIR, NANOBEIR_DEFAULT, eval_sets, suite_members

    def names(sets) -> list[str]:
        return [s.dataset_id for s in suite_members(EvalSet(name="nb", kind="nanobeir", sets=sets,
                                                             dataset_id="nano-beir"))]

    assert names(None) == [f"nano-beir/{s}" for s in NANOBEIR_DEFAULT] and len(NANOBEIR_DEFAULT) == 11
    default = suite_members(EvalSet(name="nb", kind="nanobeir", sets=["fiqa"]))[0]  # sentence-transformers' format
    assert (default.kind, default.dataset_id) == ("nanobeir_set", "sentence-transformers/NanoBEIR-en#fiqa")
    assert len(names("all")) == len(NANOBEIR) == 13
    assert names(["fiqa"]) == ["nano-beir/fiqa"]
    for bad, message in (([], "give a list"), ("some", "give a list"), (["fiqa", "nope"], "nope is not a NanoBEIR")):
        with pytest.raises(ConfigError, match=message):
            names(bad)
    with pytest.raises(ConfigError, match="only a suite"):
        EvalSet(name="x", kind="local", path="DIR", sets=["fiqa"])
    twice = OmegaConf.create({"eval": {"name": "nb", "kind": "nanobeir", "sets": ["fiqa"]},
                              "extra_eval": {"nanobeir": {"name": "nb", "kind": "nanobeir", "sets": ["fiqa", "nq"]}}})
    with pytest.raises(ConfigError, match="nb_fiqa is evaluated twice"):
        eval_sets(twice)
