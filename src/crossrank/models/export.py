"""Export: the Hugging Face folder (safetensors, config, tokenizer) plus its model card."""

from __future__ import annotations

from pathlib import Path

from crossrank.files import atomic_path
from crossrank.models.scorer import CrossEncoderScorer


def export_model(scorer: CrossEncoderScorer, out_dir: str | Path, card: str | None = None) -> Path:
    """Write the model to ``out_dir`` atomically: built in a sibling temp folder, then swapped in."""
    with atomic_path(out_dir, folder=True) as tmp:
        scorer.save_pretrained(tmp)
        if card is not None:
            (tmp / "README.md").write_text(card, encoding="utf-8")
    return Path(out_dir)
