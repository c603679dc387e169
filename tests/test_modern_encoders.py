"""Encoders beyond BERT, and training them on a budget: tiny random BERT and ModernBERT (Ettin's architecture)
encoders built offline from their configs are trained by a real run with LoRA adapters and gradient
checkpointing, exported with the adapters merged, reloaded by transformers (and sentence-transformers), and score
alike everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import compose_cfg
from safetensors.torch import load_file
from tiny import make_tiny_encoder

from crossrank.errors import ConfigError
from crossrank.models.digest import weights_digest
from crossrank.models.scorer import CrossEncoderScorer

PAIRS = [("how do solar panels work", "Solar panels turn sunlight into electricity with photovoltaic cells."),
         ("capital of france", "Paris is the capital and largest city of France, on the Seine."),
         ("capital of france", "The river otter is a semi-aquatic mammal.")]
TARGETS = {"bert": "null", "modernbert": "[Wqkv,Wo,Wi]"}  # peft has a default for BERT, none for ModernBERT
EMBEDDINGS = {"bert": "word_embeddings.weight", "modernbert": "tok_embeddings.weight"}


def train_tiny(encoder: Path, out: Path, architecture: str, *extra: str) -> None:
    from crossrank.training.run import train

    train(compose_cfg("train", ["+experiment=quickstart", "model=tiny", f"model.name_or_path={encoder}",
                                "model.max_length=64", "model.lora.r=4", f"model.lora.target_modules="
                                f"{TARGETS[architecture]}", "trainer.max_steps=6", "logger=csv", "progress=false",
                                *extra], out))


def tensor(weights: dict[str, torch.Tensor], suffix: str) -> torch.Tensor:
    return next(v for k, v in weights.items() if k.endswith(suffix))


@pytest.mark.parametrize("architecture", ["bert", "modernbert"])
def test_lora_run_exports_a_plain_model_that_scores_alike(architecture: str, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    encoder = make_tiny_encoder(tmp_path / "encoder", architecture)
    out = tmp_path / "run"
    train_tiny(encoder, out, architecture, "model.gradient_checkpointing=true")
    folder = out / "model"
    saved = load_file(folder / "model.safetensors")
    assert not [k for k in saved if "lora" in k or "base_layer" in k or "modules_to_save" in k]
    assert not (folder / "adapter_config.json").exists()
    base = load_file(encoder / "model.safetensors")
    # LoRA froze the embeddings; the merged adapters changed the attention weights
    assert torch.equal(tensor(saved, EMBEDDINGS[architecture]), tensor(base, EMBEDDINGS[architecture]))
    attention = "attention.self.query.weight" if architecture == "bert" else "attn.Wqkv.weight"
    assert not torch.equal(tensor(saved, "layers.0." + attention if architecture == "modernbert" else
                                  "layer.0." + attention), tensor(base, ("layers.0." if architecture == "modernbert"
                                                                         else "layer.0.") + attention))

    reloaded = CrossEncoderScorer.from_pretrained(str(folder), num_labels=None)
    ours = reloaded.score([q for q, _ in PAIRS], [p for _, p in PAIRS])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    hf = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        enc = tokenizer([q for q, _ in PAIRS], [p for _, p in PAIRS], padding=True, truncation=True, max_length=64,
                        return_tensors="pt")
        plain = hf(**enc).logits.squeeze(-1).numpy()
    np.testing.assert_allclose(plain, ours, atol=1e-5)
    if architecture == "bert":
        from sentence_transformers import CrossEncoder

        np.testing.assert_allclose(CrossEncoder(str(folder), device="cpu").predict(PAIRS), ours, atol=1e-5)
    # the evaluation after training scored the merged weights: the folder's
    metrics = json.loads(next((out / "eval").glob("*/metrics.json")).read_text())
    assert metrics["model_digest"] == weights_digest(reloaded.model)


def test_gradient_checkpointing_trains_the_same_steps(tmp_path: Path) -> None:
    encoder = make_tiny_encoder(tmp_path / "encoder", "modernbert")
    model = CrossEncoderScorer.from_pretrained(str(encoder), gradient_checkpointing=True).model
    assert getattr(model, "is_activation_checkpointing", None) or model.is_gradient_checkpointing
    losses = []
    for checkpointing in ("true", "false"):
        out = tmp_path / checkpointing
        train_tiny(encoder, out, "modernbert", f"model.gradient_checkpointing={checkpointing}", "eval=none",
                   "trainer.log_every_n_steps=1",
                   "export=false")
        losses.append(pd.read_csv(out / "csv" / "metrics.csv")["train/loss_step"].dropna().tolist())
    assert len(losses[0]) == 6
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)


def test_segment_cosine_without_token_type_ids_and_bad_lora_keys_are_one_line(tmp_path: Path) -> None:
    encoder = make_tiny_encoder(tmp_path / "encoder", "modernbert")
    with pytest.raises(ConfigError, match=r"^model.head: segment_cosine needs a tokenizer that marks the passage "
                                          r"with token_type_ids; .* does not \(use head=classifier\)$"):
        CrossEncoderScorer.from_pretrained(str(encoder), head="segment_cosine")
    with pytest.raises(ConfigError, match=r"^model.lora.rank: unknown key"):
        CrossEncoderScorer.from_pretrained(str(encoder), lora={"rank": 4})
    with pytest.raises(ConfigError, match=r"^model.lora.target_modules: "):
        CrossEncoderScorer.from_pretrained(str(encoder), lora={"r": 4})  # ModernBERT: peft has no default


def test_lora_on_the_segment_cosine_head_merges_into_the_encoder(tmp_path: Path) -> None:
    encoder = make_tiny_encoder(tmp_path / "encoder", "bert")
    scorer = CrossEncoderScorer.from_pretrained(str(encoder), head="segment_cosine", lora={"r": 4}, max_length=64)
    with torch.no_grad():  # adapters that do something: B starts at zero
        for name, param in scorer.model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    before = scorer.score([q for q, _ in PAIRS], [p for _, p in PAIRS])
    scorer.save_pretrained(tmp_path / "out")
    assert not [k for k in load_file(tmp_path / "out" / "model.safetensors") if "lora" in k]
    reloaded = CrossEncoderScorer.from_pretrained(str(tmp_path / "out"), num_labels=None)
    assert reloaded.head == "segment_cosine"
    np.testing.assert_allclose(reloaded.score([q for q, _ in PAIRS], [p for _, p in PAIRS]), before, atol=1e-5)
