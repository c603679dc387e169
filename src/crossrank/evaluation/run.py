"""The evaluate.py stage: load a model and evaluate it on the configured sets, on one device or split across
several with Lightning Fabric. The entry point logs the results (:mod:`crossrank.cli.app`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from crossrank.evaluation.rerank import scorer_key
from crossrank.evaluation.spec import EvalSet, eval_sets
from crossrank.evaluation.stage import evaluate_sets
from crossrank.models.backends import apply
from crossrank.models.scorer import CrossEncoderScorer

log = logging.getLogger(__name__)


def _score_sets(fabric: Any, model: str, max_length: int | None, sets: list[EvalSet], out: str,
                progress: bool, scorer: CrossEncoderScorer | None = None, backend: str = "torch",
                compile: bool = False) -> dict[str, Any]:
    """One worker: score its share of every set's shards; rank 0 merges and returns the metrics.
    Spawned workers load the model themselves; a single process passes the one it loaded. ``max_length``
    None is the model folder's own limit."""
    if scorer is None:
        scorer = CrossEncoderScorer.from_pretrained(model, max_length=max_length, num_labels=None, backend=backend,
                                                    compile=compile)
    scorer = apply(scorer.to(fabric.device).eval(), backend)
    return evaluate_sets(scorer, sets, out, model_id=model, progress=progress, rank=fabric.global_rank,
                         world_size=fabric.world_size, barrier=fabric.barrier,
                         key=scorer_key(scorer))  # hashes every weight: once for all the sets


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.model.name_or_path`` on ``eval`` (+ ``extra_eval``); files go to ``OUT/eval/<set>/``.

    ``model.devices`` > 1 (or -1: all) splits each set's shards across devices with Lightning Fabric
    (``ddp_spawn``); rank 0 merges the shards and computes the metrics.
    """
    from lightning.fabric import Fabric

    out = Path(cfg.paths.output_dir)
    sets = eval_sets(cfg)
    if cfg.model.get("batch_size"):
        for spec in sets:
            spec.batch_size = int(cfg.model.batch_size)
    model = str(cfg.model.name_or_path)
    backend = str(cfg.model.get("backend") or "torch")
    scorer = CrossEncoderScorer.from_pretrained(model, max_length=cfg.model.max_length, num_labels=None,
                                                backend=backend, compile=bool(cfg.model.get("compile")))
    log.info("scoring with %s at max_length %d (%s)", model, scorer.max_length,
             "set by model.max_length" if cfg.model.max_length else "the model folder's own limit")
    devices = cfg.model.get("devices") or 1
    accelerator = cfg.model.get("device") or "auto"
    fabric = Fabric(accelerator=accelerator, devices=devices,
                    strategy="ddp_spawn" if devices != 1 else "auto")
    if devices != 1:
        del scorer  # each spawned worker loads its own copy
        results = fabric.launch(_score_sets, model, cfg.model.max_length, sets, str(out), cfg.get("progress", True),
                                None, backend, bool(cfg.model.get("compile")))
    else:
        results = _score_sets(fabric, model, cfg.model.max_length, sets, str(out), cfg.get("progress", True),
                              scorer, backend)
    print(f"\nresults in {out / 'eval'}: " + ", ".join(f"{name}/metrics.json" for name in results))
    return results
