"""What names a run: the experiment and the overrides that change what it is (a W&B run's name, a row label in a
comparison), leaving out the ones that only say where things are."""

from __future__ import annotations

#: Overrides that say where things are, not what the experiment is: left out of run names.
UNNAMED = ("hydra.", "paths.", "data.path", "eval.path", "data.cache_dir", "logger", "progress", "ckpt_path",
           "callbacks.", "export", "keep_checkpoints", "hparams_search", "debug")


def run_name(overrides: list[str], default: str) -> str:
    """``quickstart optimizer.lr=0.0001`` for ``+experiment=quickstart optimizer.lr=0.0001 hydra.run.dir=X``;
    ``default`` when nothing names the run."""
    experiment = [o.split("=", 1)[1] for o in overrides if o.lstrip("+~").startswith("experiment=")]
    rest = [o.lstrip("+") for o in overrides if not o.lstrip("+~").startswith(("experiment=", *UNNAMED))]
    return " ".join(experiment + rest) or default
