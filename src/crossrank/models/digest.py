"""The digest of a model's weights: what identifies the model that produced a score, whatever folder it sits in."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


def weights_digest(model: nn.Module) -> str:
    """sha256 (first 16 hex digits) of every tensor of ``model``'s state dict: names, dtypes, shapes and bytes.
    A compiled model (``torch.compile``) has the digest of the model it wraps."""
    model = getattr(model, "_orig_mod", model)
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def tokenizer_digest(tokenizer: object) -> str:
    """sha256 (first 16 hex digits) of a tokenizer's full definition (vocabulary, normalizer, special tokens):
    the same weights read through another tokenizer give other scores."""
    import json

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        definition = json.loads(backend.to_str())
        for state in ("truncation", "padding"):  # what the last call set, not what the tokenizer is
            definition.pop(state, None)
        text = json.dumps(definition, sort_keys=True)
    else:
        text = repr(sorted(getattr(tokenizer, "get_vocab", dict)().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
