"""Hydra/OmegaConf resolvers that the configs use: ``${wandb_offline:}``, ``${packaged_minilm:}``,
``${cache_root:}``, ``${bm25:k1}``, ``${synthetic_data:DIR,SPLIT}``, ``${run_name:DEFAULT}``, ``${run_group:}`` and
``${optuna_storage:DIR}``. Light to import: the entry points register them before Hydra composes the config."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from crossrank.files import cache_root as _cache_root
from crossrank.models.hub import packaged_minilm
from crossrank.tracking.names import run_name as name_of_run


def wandb_logged_in() -> bool:
    """An API key in the environment, or credentials that ``wandb login`` left in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_offline() -> bool:
    """W&B runs offline unless the user is logged in (API key or ``wandb login``) or ``WANDB_MODE=online``."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "disabled", "dryrun"):
        return True
    if mode == "online":
        return False
    return not wandb_logged_in()




def _hydra():
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get()
    except (ImportError, ValueError):
        return None


def run_name(default: str = "train") -> str:
    """A W&B run name from the experiment and the overrides that change it, e.g.
    ``quickstart optimizer.lr=0.0001``; ``default`` (the task name) when there are none."""
    hc = _hydra()
    return name_of_run(list(hc.overrides.task) if hc is not None else [], default)


def run_group() -> str | None:
    """The group of a Hydra multirun job (``<task>-<sweep dir name>``, shared by its jobs); None for a single
    run or a W&B sweep agent's run (W&B groups those under the sweep)."""
    from hydra.types import RunMode

    hc = _hydra()
    if hc is None or os.environ.get("WANDB_SWEEP_ID") or hc.mode != RunMode.MULTIRUN:
        return None
    return f"{hc.job.name}-{Path(hc.sweep.dir).name}"


def optuna_storage(sweep_dir: str) -> str:
    """``sqlite:///SWEEP_DIR/optuna.db``, creating the folder: Optuna opens the study before any job runs."""
    path = Path(sweep_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'optuna.db'}"


def cache_root() -> str:
    """``paths.cache_dir``'s default (:func:`crossrank.files.cache_root`)."""
    return str(_cache_root())


def bm25_default(name: str) -> float:
    """BM25's default ``k1`` or ``b`` (:class:`crossrank.data.bm25.BM25Settings`, their one home), for the configs."""
    from dataclasses import fields

    from crossrank.data.bm25 import BM25Settings

    known = {f.name: f.default for f in fields(BM25Settings)}
    if name not in known:
        raise ValueError(f"bm25: {name!r} is not a BM25 setting (known: {', '.join(known)})")
    return float(known[name])  # type: ignore[arg-type]


def synthetic_data(cache_dir: str, split: str) -> str:
    """Folder of the quickstart's synthetic ``train``, ``val`` or ``test`` split (generated on first use)."""
    from crossrank.data.synthetic import make_synthetic

    return str(make_synthetic(Path(cache_dir) / "synthetic")[split])


def register_resolvers() -> None:
    """Register every resolver once (safe to call again)."""
    for name, fn in (("wandb_offline", wandb_offline), ("packaged_minilm", packaged_minilm), ("cache_root", cache_root),
                     ("bm25", bm25_default),
                     ("synthetic_data", synthetic_data), ("run_name", run_name),
                     ("run_group", run_group), ("optuna_storage", optuna_storage)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
