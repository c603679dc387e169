"""Export round trip: crossrank, transformers and sentence-transformers give the same scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from crossrank import Reranker
from crossrank.models.export import export_model
from crossrank.models.hub import packaged_minilm
from crossrank.models.scorer import CrossEncoderScorer

PAIRS = [("how do solar panels work", "Solar panels turn sunlight into electricity with photovoltaic cells."),
         ("how do solar panels work", "The river otter is a semi-aquatic mammal."),
         ("capital of france", "Paris is the capital and largest city of France, on the Seine." * 3)]


def test_round_trip_packaged_minilm(tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    scorer = CrossEncoderScorer.from_pretrained(packaged_minilm(), max_length=128)
    ours = scorer.score([q for q, _ in PAIRS], [p for _, p in PAIRS])
    path = export_model(scorer, tmp_path / "model", card="# card\n")
    assert not (tmp_path / "model.partial").exists()

    st = CrossEncoder(str(path), device="cpu").predict(PAIRS)
    np.testing.assert_allclose(st, ours, atol=1e-5)

    tok = AutoTokenizer.from_pretrained(path)
    hf = AutoModelForSequenceClassification.from_pretrained(path).eval()
    with torch.inference_mode():
        logits = hf(**tok([q for q, _ in PAIRS], [p for _, p in PAIRS], padding=True, truncation=True,
                          return_tensors="pt")).logits.squeeze(-1).numpy()
    np.testing.assert_allclose(logits, ours, atol=1e-5)

    reloaded = Reranker(str(path), device="cpu").predict(PAIRS)
    np.testing.assert_allclose(reloaded, ours, atol=1e-5)
