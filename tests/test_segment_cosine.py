"""The segment-cosine head: scores by hand, the saved folder reloads with it, backends agree, train.py trains it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import compose_cfg

from crossrank.errors import ConfigError
from crossrank.models.backends import apply
from crossrank.models.reranker import Reranker
from crossrank.models.scorer import CrossEncoderScorer

PAIRS = [("how do solar panels work", "solar panels turn sunlight into electricity with photovoltaic cells"),
         ("how do solar panels work", "the recipe needs two cups of flour and an egg"),
         ("coffee beans origin", "coffee beans are the seeds of a cherry grown in ethiopia and brazil")]


def test_packaged_minilm_scores_the_scaled_segment_cosine_by_hand() -> None:
    from transformers import AutoModel, AutoTokenizer

    from crossrank.models.hub import packaged_minilm

    path = str(packaged_minilm())
    scorer = CrossEncoderScorer.from_pretrained(path, head="segment_cosine", head_scale=10.0)
    got = scorer.score([q for q, _ in PAIRS], [p for _, p in PAIRS], batch_size=2)
    tok, enc = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    want = []
    with torch.no_grad():
        for q, p in PAIRS:  # one pair at a time: no padding at all
            e = tok(q, p, return_tensors="pt")
            h, types = enc(**e).last_hidden_state[0], e["token_type_ids"][0]
            want.append(10.0 * F.cosine_similarity(h[types == 0].mean(0), h[types == 1].mean(0), dim=0).item())
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert got[0] > got[1]  # no training, no new weights: the encoder already ranks the on-topic passage first


def test_saved_folder_reloads_with_its_head_and_backends_agree(tiny_model_dir: Path, tmp_path: Path) -> None:
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), head="segment_cosine", head_scale=5.0)
    ref = scorer.score([q for q, _ in PAIRS], [p for _, p in PAIRS])
    scorer.save_pretrained(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["crossrank_head"] == {"type": "segment_cosine", "scale": 5.0}
    assert "sentence_transformers" not in config  # CrossEncoder would add a random classifier: not advertised
    np.testing.assert_allclose(Reranker(str(tmp_path / "model"), device="cpu").predict(PAIRS), ref, atol=1e-5)
    assert np.all(np.abs(ref) <= 5.0 + 1e-5)
    loaded = CrossEncoderScorer.from_pretrained(str(tmp_path / "model"), num_labels=None)
    for backend, atol in (("onnx", 1e-4), ("torch-bf16", 0.1)):
        out = apply(loaded, backend, cache_dir=tmp_path / "cache").score([q for q, _ in PAIRS], [p for _, p in PAIRS])
        np.testing.assert_allclose(out, ref, atol=atol, err_msg=backend)


def test_unknown_head_is_a_config_error(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^model.head: unknown head 'mean'"):
        CrossEncoderScorer.from_pretrained(str(tiny_model_dir), head="mean")


def test_train_py_trains_the_head_with_lce(irdata_dir: Path, tmp_path: Path) -> None:
    from crossrank.training.run import train

    out = tmp_path / "run"
    train(compose_cfg("train", ["model=tiny", "model.head=segment_cosine", "loss=lce", "data=local",
                                f"data.path={irdata_dir}", "data.pairs.min_relevance=2",
                                "data.pairs.negatives_per_query=3", "data.group_size=4", "data.batch_size=8",
                                "trainer.max_epochs=1", "eval=local", f"eval.path={irdata_dir}",
                                "eval.relevance_level=2", "logger=csv", "progress=false"], out))
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["crossrank_head"]["type"] == "segment_cosine"
    assert "segment-cosine head" in (out / "model" / "README.md").read_text()
    metrics = json.loads((out / "eval" / "irdata" / "metrics.json").read_text())
    assert metrics["n_pairs"] > 0 and 0.0 <= metrics["reranked"]["ndcg@10"] <= 1.0
