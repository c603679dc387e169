"""Export: the Hugging Face folder (safetensors, config, tokenizer) plus its model card."""

from __future__ import annotations

import shutil
from pathlib import Path

from crossrank.scorer import CrossEncoderScorer


def export_model(scorer: CrossEncoderScorer, out_dir: str | Path, card: str | None = None) -> Path:
    """Write the model to ``out_dir`` atomically: built in a sibling temp folder, then moved in place."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    scorer.save_pretrained(tmp)
    if card is not None:
        (tmp / "README.md").write_text(card, encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
