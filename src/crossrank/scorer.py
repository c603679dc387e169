"""The cross-encoder: a Hugging Face sequence classifier with one logit, plus its tokenizer.

It knows nothing of Lightning or losses: tokenized pairs in, one raw relevance logit per pair out.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from crossrank.data.collate import encode_pairs, length_sorted
from crossrank.errors import ConfigError, CrossrankError

log = logging.getLogger(__name__)

#: Written into config.json so that sentence-transformers' CrossEncoder returns the raw logit too.
ST_CONFIG = {"activation_fn": "torch.nn.modules.linear.Identity"}


def looks_local(name_or_path: str) -> bool:
    """True when ``name_or_path`` is meant as a filesystem path rather than a hub id."""
    return (os.path.isabs(name_or_path) or name_or_path.startswith((".", "~"))
            or name_or_path.count("/") > 1 or os.path.exists(name_or_path))


class CrossEncoderScorer(nn.Module):
    """One relevance logit per (query, passage) pair.

    Args:
        model: an ``AutoModelForSequenceClassification`` with ``num_labels == 1``.
        tokenizer: its tokenizer.
        max_length: tokens per pair; the passage is truncated first.
    """

    def __init__(self, model: nn.Module, tokenizer, max_length: int = 512) -> None:
        super().__init__()
        num_labels = getattr(model.config, "num_labels", None)
        if num_labels != 1:
            raise CrossrankError(f"model has num_labels={num_labels}; a reranker needs a 1-logit classifier")
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.label = getattr(model.config, "_name_or_path", "") or "model"

    @classmethod
    def from_pretrained(cls, name_or_path: str, max_length: int = 512, num_labels: int | None = 1,
                        revision: str | None = None, dropout: float | None = None,
                        label: str | None = None) -> CrossEncoderScorer:
        """Load a folder or hub id. ``num_labels=1`` adds a fresh head to a bare encoder; ``None`` keeps
        the checkpoint's head as it is (evaluation), which must then have one label. ``label`` names
        the base model in model cards (default: ``name_or_path``)."""
        name_or_path = str(name_or_path)
        if looks_local(name_or_path):
            path = Path(name_or_path).expanduser()
            if not (path / "config.json").is_file():
                raise ConfigError(f"model.name_or_path: {name_or_path} is not a model folder (no config.json)")
            name_or_path = str(path)
        try:
            config = AutoConfig.from_pretrained(name_or_path, revision=revision)
            if num_labels is not None:
                config.num_labels = num_labels
            if dropout is not None and hasattr(config, "hidden_dropout_prob"):
                config.hidden_dropout_prob = dropout
            model = AutoModelForSequenceClassification.from_pretrained(name_or_path, config=config,
                                                                       revision=revision)
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
        except OSError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"model.name_or_path: cannot load {name_or_path!r}: {first}") from None
        scorer = cls(model, tokenizer, max_length=max_length)
        scorer.label = label or name_or_path
        return scorer

    def forward(self, encoding: dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw logits, shape (batch,)."""
        return self.model(**encoding).logits.squeeze(-1)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.inference_mode()
    def score(self, queries: Sequence[str], passages: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Logits for pairs, scored in length-sorted batches and returned in input order."""
        was_training = self.training
        self.eval()
        out = np.empty(len(queries), dtype=np.float32)
        lengths = [len(q) + len(p) for q, p in zip(queries, passages)]
        for idx in length_sorted(lengths, batch_size):
            enc = encode_pairs(self.tokenizer, [queries[i] for i in idx], [passages[i] for i in idx],
                               self.max_length)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            out[idx] = self(enc).float().cpu().numpy()
        self.train(was_training)
        return out

    def save_pretrained(self, path: str | Path) -> None:
        """A Hugging Face folder (safetensors, config, tokenizer) that transformers and
        sentence-transformers' CrossEncoder both load, with identical scores."""
        path = Path(path)
        self.model.config.sentence_transformers = dict(ST_CONFIG)
        self.model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.model_max_length = self.max_length
        self.tokenizer.save_pretrained(path)
        config = json.loads((path / "config.json").read_text())
        config["sentence_transformers"] = dict(ST_CONFIG)
        (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
