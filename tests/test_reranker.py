"""The public API: Reranker.predict / .rank with CrossEncoder semantics, and loading errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig, AutoModelForSequenceClassification

from crossrank import Reranker
from crossrank.errors import ConfigError, CrossrankError
from crossrank.models.hub import packaged_minilm


def test_predict_and_rank(tiny_model_dir: Path) -> None:
    r = Reranker(str(tiny_model_dir), device="cpu")
    docs = ["alpha beta", "gamma", "delta epsilon zeta", "eta"]
    scores = r.predict([("query", d) for d in docs], batch_size=2)
    assert isinstance(scores, np.ndarray) and scores.shape == (4,)
    assert float(r.predict(("query", "gamma"))) == pytest.approx(float(scores[1]), abs=1e-5)
    ranked = r.rank("query", docs)
    assert [x["corpus_id"] for x in ranked] == list(np.argsort(-scores))
    assert [x["score"] for x in ranked] == pytest.approx(sorted(scores.tolist(), reverse=True), abs=1e-5)
    top = r.rank("query", docs, top_k=2, return_documents=True)
    assert len(top) == 2 and top[0]["text"] == docs[top[0]["corpus_id"]]


def test_errors_speak_the_api_not_the_config(tmp_path: Path) -> None:
    """Reranker(...) errors name its own argument, not a Hydra key."""
    with pytest.raises(ConfigError) as err:
        Reranker(str(tmp_path / "nope"))
    assert str(err.value).startswith("Reranker: name_or_path: ") and str(err.value).endswith("does not exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"^Reranker: name_or_path: .*empty is not a model folder \(no config.json\)"):
        Reranker(str(tmp_path / "empty"))
    with pytest.raises(ConfigError) as err:
        Reranker(packaged_minilm())
    assert "bare encoder (BertModel) with no trained reranking head" in str(err.value)
    assert "model.name_or_path" not in str(err.value) and "num_labels" not in str(err.value)


def test_max_length_above_the_model_is_an_error(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^Reranker: max_length: 1024 is more than .* can read \(512 positions\)"):
        Reranker(str(tiny_model_dir), max_length=1024)
    assert Reranker(str(tiny_model_dir), max_length=64).scorer.max_length == 64


def test_not_a_one_logit_classifier(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.num_labels = 3
    AutoModelForSequenceClassification.from_config(config).save_pretrained(tmp_path / "three")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "three" / f).write_bytes((tiny_model_dir / f).read_bytes())
    with pytest.raises(CrossrankError, match="num_labels=3; a reranker needs a 1-logit classifier"):
        Reranker(str(tmp_path / "three"))
