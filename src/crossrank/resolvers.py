"""Hydra/OmegaConf resolvers that the configs use: ``${wandb_offline:}``, ``${packaged_minilm:}``,
``${tiny_model:DIR}`` and ``${synthetic_data:DIR,SPLIT}``. Light to import: the entry points register
them before Hydra composes the config."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from crossrank.hub import packaged_minilm


def wandb_offline() -> bool:
    """W&B runs offline unless an API key is set (or ``WANDB_MODE=online`` asks for it)."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "disabled", "dryrun"):
        return True
    if mode == "online":
        return False
    return not os.environ.get("WANDB_API_KEY")


def tiny_model(cache_dir: str) -> str:
    """Folder of the tiny offline BERT (built on first use under ``cache_dir``)."""
    from crossrank.tiny import make_tiny_model

    return str(make_tiny_model(Path(cache_dir) / "tiny-bert"))


def synthetic_data(cache_dir: str, split: str) -> str:
    """Folder of the quickstart's synthetic ``train`` or ``test`` split (generated on first use)."""
    from crossrank.data.synthetic import make_synthetic

    train, test = make_synthetic(Path(cache_dir) / "synthetic")
    return str(train if split == "train" else test)


def register_resolvers() -> None:
    """Register every resolver once (safe to call again)."""
    for name, fn in (("wandb_offline", wandb_offline), ("packaged_minilm", packaged_minilm),
                     ("tiny_model", tiny_model), ("synthetic_data", synthetic_data)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
