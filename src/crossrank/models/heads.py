"""A cross-encoder head with no new weights: the cosine between the mean token states of the query's and the
passage's segments of one joint encoding (``[CLS] query [SEP] passage [SEP]``, full attention across both).

Why: a sentence-embedding encoder such as all-MiniLM-L6-v2 already scores relevance by the cosine of mean-pooled
states, and this head keeps that scoring rule, so fine-tuning starts from a ranker (nDCG@10 0.508 on DL19's BM25
top 100 before any training, where a fresh classifier on ``[CLS]`` starts at random) instead of wiping out what the
encoder knew with a few queries' gradients through a new layer. The logit is ``scale * cosine`` (``scale`` fixed,
stored in the folder's ``config.json`` under ``crossrank_head``).

The saved folder is the encoder (``BertModel`` weights) plus that key: crossrank loads it; transformers and
sentence-transformers' ``CrossEncoder`` would put a new random classifier on top, so they must not be used on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from crossrank.errors import CrossrankError

#: ``model.head`` values: the library's sequence classifier, or this module's head.
HEADS = ("classifier", "segment_cosine")
CONFIG_KEY = "crossrank_head"


def _segment_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class SegmentCosineModel(nn.Module):
    """One logit per pair, ``scale * cos(mean(query states), mean(passage states))``.

    Args:
        encoder: a Hugging Face encoder (``AutoModel``) whose tokenizer marks the second segment with
            ``token_type_ids`` (BERT-style).
        scale: the logit for a cosine of 1 (20 is the usual temperature of in-batch contrastive training).
    """

    def __init__(self, encoder: nn.Module, scale: float = 20.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        self.config.num_labels = 1
        setattr(self.config, CONFIG_KEY, {"type": "segment_cosine", "scale": float(scale)})
        self.register_buffer("scale", torch.tensor(float(scale)))  # in state_dict: backends fingerprint it

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> SequenceClassifierOutput:
        if token_type_ids is None:
            raise CrossrankError("model.head=segment_cosine needs token_type_ids (a BERT-style tokenizer that marks "
                                 "the passage segment)")
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        real = attention_mask.bool()
        query = F.normalize(_segment_mean(states, real & (token_type_ids == 0)), dim=-1)
        passage = F.normalize(_segment_mean(states, real & (token_type_ids == 1)), dim=-1)
        cosine = (query * passage).sum(-1)
        return SequenceClassifierOutput(logits=(self.scale.to(cosine.dtype) * cosine).unsqueeze(-1))

    def save_pretrained(self, path, **kwargs) -> None:
        """The encoder's folder; ``config.json`` carries the head (``crossrank_head``)."""
        self.encoder.save_pretrained(path, **kwargs)


def head_of(config) -> dict | None:
    """The ``crossrank_head`` entry of a model config (None: a plain sequence classifier)."""
    head = getattr(config, CONFIG_KEY, None)
    return dict(head) if head else None
