"""A tiny BERT cross-encoder built offline (random weights, the MiniLM tokenizer) for fast tests."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from crossrank.files import atomic_path
from crossrank.models.hub import packaged_minilm


def make_tiny_model(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a 2-layer, 32-wide BERT with a 1-logit head to ``out_dir`` (reused when present)."""
    import torch

    out = Path(out_dir)
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                        num_labels=1)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    with atomic_path(out, folder=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return out


def make_tiny_encoder(out_dir: str | Path, architecture: str, seed: int = 0) -> Path:
    """A bare 2-layer, 32-wide random encoder of ``architecture`` (``bert`` or ``modernbert``: no head, as a
    pretrained checkpoint is) with the MiniLM vocabulary, built from its transformers config offline. The
    ModernBERT one's tokenizer makes no ``token_type_ids``, as ModernBERT's own does not."""
    import torch
    from transformers import BertModel, ModernBertConfig, ModernBertModel

    out = Path(out_dir)
    if (out / "config.json").exists():
        return out
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm())
    torch.manual_seed(seed)
    if architecture == "bert":
        model = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=512))
    else:
        config = ModernBertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                                  local_attention=16, pad_token_id=tokenizer.pad_token_id,
                                  cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
                                  bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
        model = ModernBertModel(config)
        tokenizer.model_input_names = ["input_ids", "attention_mask"]
    with atomic_path(out, folder=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return out
