"""The evaluate.py stage: load a model, evaluate it on the configured sets, log the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from crossrank.evaluation.stage import evaluate_set
from crossrank.scorer import CrossEncoderScorer
from crossrank.tracking import log_evaluation
from crossrank.training import eval_sets


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.model.name_or_path`` on ``eval`` (+ ``extra_eval``); files go to ``OUT/eval/<set>/``."""
    import torch

    out = Path(cfg.paths.output_dir)
    sets = eval_sets(cfg)
    scorer = CrossEncoderScorer.from_pretrained(cfg.model.name_or_path, max_length=cfg.model.max_length,
                                                num_labels=None)
    device = cfg.model.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    scorer.to(device).eval()
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    results: dict[str, Any] = {}
    for spec in sets:
        if cfg.model.get("batch_size"):
            spec.batch_size = int(cfg.model.batch_size)
        results[spec.name] = evaluate_set(scorer, spec, out, model_id=str(cfg.model.name_or_path),
                                          progress=cfg.get("progress", True))
        log_evaluation(loggers, spec.name, results[spec.name], str(out / "eval" / spec.name / "per_query.tsv"))
    return results
